"""MCP sessions for a synchronous runtime: one background event loop thread per agent.

The runtime is synchronous and the MCP SDK is async (anyio). `MCPConnections` starts a daemon
thread running an asyncio loop the first time it connects, and keeps one SDK `Client` per server
on it. Each client is entered and exited by one long-lived task (anyio's cancel scopes belong to
the task that opened them); tool calls are submitted to the loop from any thread and waited for
with a timeout. A server that cannot be started, reached or listed within its
`connect_timeout_s` is a ConfigurationError naming the server, its command or URL, the cause
and the end of its stderr (kept in `$FRAMEWORK_HOME/logs/mcp-<name>.log`).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.config import private_dir, private_file
from framework.errors import ConfigurationError, ToolFailure
from framework.log import logger
from framework.mcp.servers import MCPServer

if TYPE_CHECKING:
    from mcp import Client
    from mcp.types import CallToolResult, Tool

CLOSE_TIMEOUT_S = 10.0  # the SDK closes stdin, waits 2 s, then terminates and kills the process
_MAX_PAGES = 100  # a server whose tool listing never ends is cut off here


@dataclass
class _Live:
    """One connected server: its client, the tools it listed, and how to end its task."""

    client: Client
    tools: list[Tool]
    stop: asyncio.Event
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class MCPConnections:
    """The agent's connected MCP servers. `connect()` starts them all (concurrently) and returns
    each one's tools; `call()` runs one tool; `close()` ends the sessions, the server processes
    and the thread."""

    def __init__(self, servers: list[MCPServer], log_dir: Path) -> None:
        self.servers = {s.name: s for s in servers}
        self.log_dir = log_dir
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._live: dict[str, _Live] = {}
        self._log_start: dict[str, int] = {}  # where this run's stderr begins in each server's log
        self._lock = threading.Lock()

    # --- the loop thread ------------------------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        """The background loop, started on first use."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="framework-mcp", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
                atexit.register(self.close)  # a process that forgets Agent.close() still ends its servers
            return self._loop

    def _run(self, coroutine: Any, timeout: float) -> Any:
        """Run a coroutine on the loop thread and wait for it (from any other thread)."""
        loop = self._ensure_loop()
        if threading.current_thread() is self._thread:
            raise RuntimeError("an MCP call from the MCP loop thread itself would wait for itself")
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:g} s") from None

    # --- connecting -----------------------------------------------------------------------------
    def connect(self) -> dict[str, list[Tool]]:
        """Start every server, hand-shake and list its tools. The first failure closes the
        others and raises ConfigurationError."""
        wait = max((s.connect_timeout_s for s in self.servers.values()), default=0) + CLOSE_TIMEOUT_S
        outcomes = self._run(self._open_all(), wait)
        failed = [(name, error) for name, error in outcomes.items() if isinstance(error, BaseException)]
        if failed:
            self.close()
            name, error = failed[0]
            raise ConfigurationError(self._failure(self.servers[name], error)) from None
        return {name: self._live[name].tools for name in self.servers}

    async def _open_all(self) -> dict[str, BaseException | None]:
        names = list(self.servers)
        results = await asyncio.gather(*(self._open(self.servers[n]) for n in names), return_exceptions=True)
        return {n: r if isinstance(r, BaseException) else None for n, r in zip(names, results, strict=True)}

    async def _open(self, server: MCPServer) -> None:
        ready: asyncio.Future[_Live] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._hold(server, ready), name=f"mcp-{server.name}")
        try:
            live = await asyncio.wait_for(asyncio.shield(ready), server.connect_timeout_s)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # the SDK stops the process
            raise TimeoutError(
                f"it did not answer within connect_timeout_s={server.connect_timeout_s:g} s"
            ) from None
        live.task = task
        self._live[server.name] = live

    async def _hold(self, server: MCPServer, ready: asyncio.Future[_Live]) -> None:
        """Open the client, list its tools, report ready, then hold the session until stopped."""
        try:
            async with AsyncExitStack() as stack:
                client = await stack.enter_async_context(await self._client(server, stack))
                tools = await _list_tools(client)
                live = _Live(client, tools, asyncio.Event())
                ready.set_result(live)
                await live.stop.wait()
        except Exception as exc:
            if not ready.done():
                ready.set_exception(exc)
            else:  # after start-up: its calls fail from now on (see `call`), and the log says why
                logger.warning("MCP server %r: the session ended: %s", server.name, describe(exc))

    async def _client(self, server: MCPServer, stack: AsyncExitStack) -> Client:
        from mcp import Client, StdioServerParameters
        from mcp.client.stdio import stdio_client
        from mcp.client.streamable_http import streamable_http_client
        from mcp.types import Implementation

        info = Implementation(name="framework", version="0.1.0")
        if server.transport == "stdio":
            log = self._stderr_log(server)
            self._log_start[server.name] = log.stat().st_size
            errlog = stack.enter_context(log.open("a", encoding="utf-8"))
            parameters = StdioServerParameters(
                command=server.command[0], args=list(server.command[1:]), env=dict(server.env), cwd=server.cwd
            )
            transport: Any = stdio_client(parameters, errlog=errlog)
        else:
            import httpx2

            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=dict(server.headers), timeout=httpx2.Timeout(server.connect_timeout_s, read=300)
                )
            )
            assert server.url is not None
            transport = streamable_http_client(server.url, http_client=http)
        return Client(transport, read_timeout_seconds=server.timeout_s, client_info=info)

    def _stderr_log(self, server: MCPServer) -> Path:
        private_dir(self.log_dir)
        return private_file(self.log_dir / f"mcp-{server.name}.log")

    def _failure(self, server: MCPServer, error: BaseException) -> str:
        """What went wrong starting a server, for a ConfigurationError."""
        message = f"MCP server {server.name!r} ({server.where}) could not be started: {describe(error)}"
        if server.transport == "stdio":
            log = self.log_dir / f"mcp-{server.name}.log"
            tail = _tail(log, self._log_start.get(server.name, 0))
            message += f". Its stderr is in {log}" + (f"; it ended with:\n{tail}" if tail else "")
        return message

    # --- calling ----------------------------------------------------------------------------
    def call(self, server: str, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        """Call one tool of a connected server. A failure to get an answer (the server gone, a
        timeout, a protocol error) raises ToolFailure naming the server and the tool."""
        live = self._live.get(server)
        if live is None:
            raise ToolFailure(f"MCP server {server!r} is not connected")
        timeout = self.servers[server].timeout_s
        try:
            result: CallToolResult = self._run(
                live.client.call_tool(tool, arguments, read_timeout_seconds=timeout), timeout + 5
            )
        except Exception as exc:
            raise ToolFailure(f"MCP server {server!r}: {tool} got no answer: {describe(exc)}") from None
        return result

    def close(self) -> None:
        """End every session (each server process is stopped by the SDK), then the thread."""
        with self._lock:
            loop, thread, live = self._loop, self._thread, list(self._live.values())
            self._loop, self._thread, self._live = None, None, {}
        if loop is None:
            return
        atexit.unregister(self.close)
        tasks = [entry.task for entry in live if entry.task is not None]
        for entry in live:
            loop.call_soon_threadsafe(entry.stop.set)

        async def finished() -> None:
            if tasks:
                await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)

        if thread is not threading.current_thread():
            # A server that will not stop must not keep the agent from closing.
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(finished(), loop).result(CLOSE_TIMEOUT_S + 1)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSE_TIMEOUT_S)
            if not thread.is_alive():
                loop.close()


async def _list_tools(client: Client) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def describe(error: BaseException) -> str:
    """One line for an error, looking inside exception groups (anyio wraps errors in them)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = str(error).strip() or type(error).__name__
    return text if isinstance(error, TimeoutError | ConfigurationError) else f"{type(error).__name__}: {text}"


def _tail(path: Path, start: int, lines: int = 8) -> str:
    """The last lines a server wrote to its stderr log since `start` (a byte offset)."""
    try:
        with path.open("rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
