"""`framework mcp serve` against the MCP SDK's own client: the real server process over stdio
(one user) and over streamable HTTP on a loopback port (the user from each request's API key)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from click.testing import CliRunner
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, Implementation

from framework.cli import main
from framework.config import load_settings
from framework.serve.keys import KeyStore, open_keys

ROOT = Path(__file__).resolve().parent.parent
CLIENT = Implementation(name="test-client", version="1.0")


def text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def stdio_session(home: Path, *extra: str) -> Callable[[Callable[[Client], Awaitable[Any]]], Any]:
    """Run `work` with a client of `python -m framework mcp serve` over stdio."""
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "framework", "mcp", "serve", "--home", str(home), "--embedder", "hash", *extra],
        cwd=ROOT,
    )

    def run(work: Callable[[Client], Awaitable[Any]]) -> Any:
        async def session() -> Any:
            async with Client(parameters, client_info=CLIENT, read_timeout_seconds=60) as client:
                return await work(client)

        return anyio.run(session)

    return run


def test_stdio_remember_list_recall_forget_for_one_user(home: Path) -> None:
    async def work(client: Client) -> dict[str, Any]:
        seen: dict[str, Any] = {"tools": sorted(t.name for t in (await client.list_tools()).tools)}
        wrote = await client.call_tool(
            "remember", {"content": "Ada prefers Python over JavaScript", "type": "preference"}
        )
        seen["wrote"] = (wrote.is_error, text(wrote))
        await client.call_tool("remember", {"content": "Ada works on the billing service"})
        secret = await client.call_tool("remember", {"content": "my password is hunter2"})
        seen["secret"] = (secret.is_error, text(secret))
        seen["listed"] = text(await client.call_tool("list_memories", {}))
        seen["recalled"] = text(await client.call_tool("recall", {"query": "billing service work"}))
        seen["exported"] = json.loads(text(await client.call_tool("export", {})))
        seen["forgot"] = text(await client.call_tool("forget", {"id": 1}))
        again = await client.call_tool("forget", {"id": 1})
        seen["again"] = (again.is_error, text(again))
        seen["after"] = text(await client.call_tool("list_memories", {}))
        return seen

    seen = stdio_session(home, "--user", "ada")(work)
    assert seen["tools"] == ["export", "forget", "list_memories", "pending", "recall", "remember"]
    assert seen["wrote"] == (False, "remembered #1 (write: new): Ada prefers Python over JavaScript")
    assert seen["listed"].splitlines() == [
        "#1 preference 0.90 explicit: Ada prefers Python over JavaScript",
        "#2 fact 0.90 explicit: Ada works on the billing service",
    ]
    # the recall explains each memory: preferences always, facts by their signals
    recalled = seen["recalled"].splitlines()
    assert recalled[0] == (
        "#1 preference (all active preferences are always included): Ada prefers Python over JavaScript"
    )
    assert recalled[1].startswith("#2 fact score=") and "via" in recalled[1]
    assert recalled[1].endswith(": Ada works on the billing service")
    # the write policy refused the secret, and it is nowhere
    assert seen["secret"][0] and seen["secret"][1].endswith("not remembered: sensitive: password")
    assert "hunter2" not in seen["listed"] and "hunter2" not in json.dumps(seen["exported"])
    # provenance: the client's name from its clientInfo
    assert {m["origin"] for m in seen["exported"]["memories"]} == {"mcp:test-client"}
    assert seen["forgot"] == "forgotten #1"
    assert seen["again"][0] and seen["again"][1].endswith("no active memory #1 for this user")
    assert seen["after"] == "#2 fact 0.90 explicit: Ada works on the billing service"


def test_stdio_with_an_agents_write_policy_parks_writes_for_approval(home: Path, tmp_path: Path) -> None:
    agent_file = tmp_path / "careful.py"
    agent_file.write_text(
        "from framework import Agent\nfrom framework.memory.governance import WritePolicy\n\n"
        "class Careful(Agent):\n    name = 'careful'\n    write_policy = WritePolicy(require_approval=True)\n"
    )

    async def work(client: Client) -> tuple[str, str, str]:
        wrote = text(await client.call_tool("remember", {"content": "Ada deploys on Fridays"}))
        return (
            wrote,
            text(await client.call_tool("pending", {})),
            text(await client.call_tool("list_memories", {})),
        )

    wrote, pending, listed = stdio_session(home, "--user", "ada", "--agent", str(agent_file))(work)
    assert wrote.startswith("pending #1: waits for a human's approval")
    assert pending.startswith("pending 1: write 'Ada deploys on Fridays'")
    assert listed == "no memories"


def test_stdio_needs_a_user_and_http_refuses_one(home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["mcp", "serve", "--home", str(home)])
    assert result.exit_code == 2 and "--user is required with --transport stdio" in result.output
    result = runner.invoke(
        main, ["mcp", "serve", "--transport", "http", "--user", "ada", "--home", str(home)]
    )
    assert result.exit_code == 2 and "over HTTP each API key names its user" in result.output


# --- streamable HTTP: a user per API key ---------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One HTTP server for this module's tests (its URL and home); each test uses its own users."""
    home, port = tmp_path_factory.mktemp("served") / "home", free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "framework", "mcp", "serve", "--transport", "http", "--port", str(port),
         "--home", str(home), "--embedder", "hash"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the server did not start: {process.communicate()[1].decode()}") from None
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/mcp", home
    process.terminate()
    process.wait(10)


def create_key(home: Path, user: str) -> str:
    result = CliRunner().invoke(
        main, ["keys", "create", "--user", user, "--home", str(home), "--embedder", "hash"]
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def over_http(url: str, key: str | None, work: Callable[[Client], Awaitable[Any]]) -> Any:
    async def session() -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            Client(streamable_http_client(url, http_client=http), client_info=CLIENT) as client,
        ):
            return await work(client)

    return anyio.run(session)


def call(name: str, **arguments: Any) -> Callable[[Client], Awaitable[CallToolResult]]:
    async def work(client: Client) -> CallToolResult:
        return await client.call_tool(name, arguments)

    return work


def test_http_each_key_reaches_only_its_users_memory(served: tuple[str, Path]) -> None:
    url, home = served
    ada, bob = create_key(home, "ada"), create_key(home, "bob")
    wrote = text(
        over_http(url, ada, call("remember", content="Ada prefers tea over coffee", type="preference"))
    )
    assert wrote.startswith("remembered #") and wrote.endswith("(write: new): Ada prefers tea over coffee")
    memory_id = int(wrote.split("#")[1].split(" ")[0])
    assert text(over_http(url, ada, call("list_memories"))) == (
        f"#{memory_id} preference 0.90 explicit: Ada prefers tea over coffee"
    )
    assert "Ada prefers tea" in text(over_http(url, ada, call("recall", query="drinks")))
    secret = over_http(url, ada, call("remember", content="my password is hunter2"))
    assert secret.is_error and "sensitive: password" in text(secret)
    # bob's key sees nothing of ada's
    assert text(over_http(url, bob, call("list_memories"))) == "no memories"
    bobs = text(over_http(url, bob, call("recall", query="tea coffee drinks")))
    assert bobs == "nothing remembered for this user matches 'tea coffee drinks'"
    assert json.loads(text(over_http(url, bob, call("export"))))["memories"] == []
    refused = over_http(url, bob, call("forget", id=memory_id))
    assert refused.is_error and text(refused).endswith(f"no active memory #{memory_id} for this user")
    assert "Ada prefers tea" in text(over_http(url, ada, call("list_memories")))


@pytest.mark.parametrize("key", [None, "fwk_000000000000_" + "0" * 64, "not-a-key"])
def test_http_without_a_valid_key_is_refused(served: tuple[str, Path], key: str | None) -> None:
    url, _ = served
    raw = httpx2.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"Accept": "application/json, text/event-stream"}
        | ({"Authorization": f"Bearer {key}"} if key else {}),
    )
    assert raw.status_code == 401
    with pytest.raises((MCPError, ExceptionGroup, httpx2.HTTPError)):
        over_http(url, key, call("list_memories"))


def test_a_revoked_key_is_refused(served: tuple[str, Path]) -> None:
    url, home = served
    key = create_key(home, "carol")
    assert text(over_http(url, key, call("list_memories"))) == "no memories"
    result = CliRunner().invoke(
        main, ["keys", "revoke", key.split("_")[1], "--home", str(home), "--embedder", "hash"]
    )
    assert result.exit_code == 0, result.output
    with pytest.raises((MCPError, ExceptionGroup, httpx2.HTTPError)):
        over_http(url, key, call("list_memories"))


# --- the key store --------------------------------------------------------------------------------
def test_keys_are_stored_as_salted_digests_and_checked(home: Path) -> None:
    store = open_keys(load_settings(embedder="hash"))
    first, second = store.create("ada", "laptop"), store.create("ada")
    assert first.token.startswith("fwk_") and store.user_of(first.token) == "ada"
    key_id, secret = first.token.split("_")[1:]
    assert store.user_of(f"fwk_{key_id}_{'f' * 64}") is None  # right id, wrong secret
    assert store.user_of(f"fwk_{second.key_id}_{secret}") is None  # a secret works only with its key
    [row, _] = store.list("ada")
    assert row.label == "laptop" and secret not in (row.digest, row.salt)
    assert len({r.salt for r in store.list()}) == 2  # a salt per key
    store.engine.dispose()
    database = (home / "memory.db").read_bytes() + (
        (home / "memory.db-wal").read_bytes() if (home / "memory.db-wal").exists() else b""
    )
    assert secret.encode() not in database
    assert store.revoke(first.key_id) and not store.revoke(first.key_id)
    assert store.user_of(first.token) is None and store.user_of(second.token) == "ada"


def test_keys_cli_lists_without_showing_keys(home: Path) -> None:
    token = create_key(home, "ada")
    listed = CliRunner().invoke(main, ["keys", "list", "--home", str(home), "--embedder", "hash"])
    assert token.split("_")[1] in listed.output and token.split("_")[2] not in listed.output
    assert "user='ada'" in listed.output and "active" in listed.output


def test_erasing_a_user_deletes_their_keys(home: Path) -> None:
    from framework.memory.manager import MemoryManager

    token = create_key(home, "ada")
    manager = MemoryManager(load_settings(embedder="hash"))
    try:
        manager.delete_user("ada")
        assert KeyStore(manager.engine).user_of(token) is None
        assert KeyStore(manager.engine).list() == []
    finally:
        manager.close()


def test_the_sdk_loads_only_to_serve_or_for_an_agent_with_servers() -> None:
    code = (
        "import sys, framework, framework.cli; "
        "print([m for m in ('mcp', 'httpx2', 'jsonschema') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
