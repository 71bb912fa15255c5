"""framework's governed memory as an MCP server (`framework mcp serve`).

Tools: `recall` (memories for a query, each with why it was chosen), `remember` (through the write
policy, the approval queue and provenance: the memory's origin is `mcp:<client name>`, the name
the client gave in its clientInfo), `forget`, `list_memories`, `export` and `pending`. Every
request acts for exactly one user: over stdio the `--user` the server was started for; over
streamable HTTP the user of the API key in `Authorization: Bearer <key>` (framework.serve.keys),
checked before any tool runs, so a request without a valid key is refused with 401 and a key
reaches only its own user's memory. Memory calls are serialized (one lock): the store is shared
by every request and the tools are quick.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import anyio.to_thread
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from framework.errors import FrameworkError
from framework.memory.manager import MemoryManager
from framework.serve.keys import KeyStore

if TYPE_CHECKING:
    from framework.agent import Agent
    from framework.config import Settings

MemoryKind = Literal["fact", "preference", "constraint", "outcome"]
INSTRUCTIONS = (
    "Long-term memory of one user, governed: writes pass a write policy (no secrets, nothing "
    "transient or speculative) and may wait for a human's approval. Recall before answering "
    "questions about the user; remember lasting facts, preferences and constraints they state."
)
_CLIENT = re.compile(r"[^\w.@-]")


class KeyVerifier:
    """Bearer tokens checked against the store's API keys (the SDK's TokenVerifier protocol)."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    async def verify_token(self, token: str) -> AccessToken | None:
        user = await anyio.to_thread.run_sync(self.keys.user_of, token)
        if user is None:
            return None
        # client_id is the key's public id: the SDK binds each HTTP session to it.
        return AccessToken(token=token, client_id=token.split("_")[1], scopes=[], subject=user)


class MemoryTools:
    """The tools' work over one MemoryManager, each call for a given user."""

    def __init__(self, memory: MemoryManager) -> None:
        self.memory = memory
        self._lock = threading.Lock()

    def recall(self, user: str, query: str) -> str:
        with self._lock:
            lines = self.memory.recall(user, query).explain()
        return "\n".join(lines) if lines else f"nothing remembered for this user matches {query!r}"

    def remember(self, user: str, client: str, content: str, kind: MemoryKind, tags: list[str]) -> str:
        with self._lock:
            op = self.memory.remember(user, content, kind, tags=tags, origin=f"mcp:{client}")
        if op.kind == "reject":
            raise ToolError(f"not remembered: {op.reason}")
        if op.kind == "pending":
            return f"pending #{op.memory_id}: waits for a human's approval ({op.reason})"
        if op.kind == "reinforce":
            return f"already remembered as #{op.memory_id}; reinforced"
        return f"remembered #{op.memory_id} ({op.kind}: {op.reason}): {op.content}"

    def forget(self, user: str, client: str, memory_id: int) -> str:
        with self._lock:
            done = self.memory.long_term.forget(
                user, memory_id, actor="user", reason=f"forget requested by MCP client {client}"
            )
        if not done:
            raise ToolError(f"no active memory #{memory_id} for this user")
        return f"forgotten #{memory_id}"

    def list_memories(self, user: str, kind: MemoryKind | None) -> str:
        with self._lock:
            entries = self.memory.long_term.active(user, [kind] if kind else None)
        lines = [
            f"#{m.id} {m.memory_type} {m.confidence:.2f} {m.source}"
            + (f" {{{', '.join(m.tags)}}}" if m.tags else "")
            + f": {m.content}"
            for m in entries
        ]
        return "\n".join(lines) if lines else "no memories"

    def export(self, user: str) -> str:
        with self._lock:
            return json.dumps(self.memory.export(user), indent=1, default=str)

    def pending(self, user: str) -> str:
        with self._lock:
            rows = self.memory.queue.pending(user)
        lines = [
            f"pending {r.id}: {r.action}{f' #{r.target}' if r.target else ''} "
            f"{r.candidate.get('content')!r} ({r.reason})"
            for r in rows
        ]
        return "\n".join(lines) if lines else "nothing pending"


def build_server(
    memory: MemoryManager, *, user: str | None = None, keys: KeyStore | None = None, issuer: str = ""
) -> MCPServer:
    """The MCP server over `memory`: for one `user` (stdio), or with `keys` deciding the user of
    each HTTP request (`issuer`: this server's base URL, which the SDK's auth settings require)."""
    if (user is None) == (keys is None):
        raise ValueError("give either the user (stdio) or the key store (HTTP)")
    verifier = KeyVerifier(keys) if keys is not None else None
    server: MCPServer = MCPServer(
        "framework-memory",
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        token_verifier=verifier,
        auth=AuthSettings(issuer_url=issuer, resource_server_url=None) if verifier else None,
    )
    work = MemoryTools(memory)

    def user_of(ctx: Context) -> str:
        if user is not None:
            return user
        token = get_access_token()
        if token is None or not token.subject:  # the auth middleware lets no such request through
            raise ToolError("no API key: send Authorization: Bearer <key>")
        return token.subject

    @server.tool()
    def recall(query: str, ctx: Context) -> str:
        """What is remembered about the user that bears on `query`: all their preferences and
        constraints, and the facts and outcomes that match best, each with why it was chosen.

        Args:
            query: what the memories should be about
        """
        return _guarded(lambda: work.recall(user_of(ctx), query))

    @server.tool()
    def remember(content: str, ctx: Context, type: MemoryKind = "fact", tags: list[str] | None = None) -> str:
        """Remember one lasting statement about the user. It passes the write policy (secrets,
        transient or speculative statements are refused) and may wait for a human's approval.

        Args:
            content: a standalone statement, e.g. "Ada prefers Python over JavaScript"
            type: fact, preference, constraint (a rule to follow) or outcome (a lesson learned)
            tags: optional labels
        """
        return _guarded(lambda: work.remember(user_of(ctx), client_of(ctx), content, type, tags or []))

    @server.tool()
    def forget(id: int, ctx: Context) -> str:
        """Forget one memory: it is never recalled again (the audit keeps that it was forgotten).

        Args:
            id: the memory's number, as recall or list_memories show it (#12 -> 12)
        """
        return _guarded(lambda: work.forget(user_of(ctx), client_of(ctx), id))

    @server.tool()
    def list_memories(ctx: Context, type: MemoryKind | None = None) -> str:
        """Every active memory of the user (complete, not a top-k), optionally of one type.

        Args:
            type: only memories of this type
        """
        return _guarded(lambda: work.list_memories(user_of(ctx), type))

    @server.tool()
    def export(ctx: Context) -> str:
        """Everything stored about the user, with the audit trail, as JSON."""
        return _guarded(lambda: work.export(user_of(ctx)))

    @server.tool()
    def pending(ctx: Context) -> str:
        """Writes waiting for a human's approval (`framework memory approve N --user U`)."""
        return _guarded(lambda: work.pending(user_of(ctx)))

    return server


def client_of(ctx: Context) -> str:
    """The client's name from its clientInfo (initialize, or each request's envelope), made safe."""
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else ""
    return _CLIENT.sub("_", name)[:64] or "unknown"


def _guarded(work: Callable[[], str]) -> str:
    """The framework's own errors as tool errors (the client sees the message, not a crash)."""
    try:
        return work()
    except FrameworkError as exc:
        raise ToolError(str(exc)) from exc


def memory_for(settings: Settings, agent_class: type[Agent] | None = None) -> MemoryManager:
    """The memory an agent class would have (its write policy, recall limit, skills, policies),
    or the defaults; no model and no tools are needed to serve it."""
    if agent_class is None:
        return MemoryManager(settings)
    probe = agent_class.__new__(agent_class)  # only to resolve its folders as the agent does
    return MemoryManager(
        settings,
        skills_dir=probe._folder("skills"),
        policies_dir=probe._folder("policies"),
        write_policy=agent_class.write_policy,
        recall_limit=agent_class.recall_limit,
        recall_min_confidence=agent_class.recall_min_confidence,
        forgetting=agent_class.forgetting,
    )


def serve(
    settings: Settings,
    *,
    agent_class: type[Agent] | None,
    user: str | None,
    transport: Literal["stdio", "http"],
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Run until stopped: stdio for one user, or streamable HTTP at http://host:port/mcp."""
    memory = memory_for(settings, agent_class)
    try:
        if transport == "stdio":
            build_server(memory, user=user).run("stdio")
        else:
            server = build_server(memory, keys=KeyStore(memory.engine), issuer=f"http://{host}:{port}")
            server.run("streamable-http", host=host, port=port)
    finally:
        memory.close()
