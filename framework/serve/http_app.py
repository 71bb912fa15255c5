"""framework's HTTP service (`framework serve`): an agent behind an OpenAI-compatible API, and its
user's governed memory over REST. FastAPI; run by uvicorn, one agent per worker process.

Every route but `/health` and the docs acts for the user of the request's API key
(`Authorization: Bearer fwk_...`, created with `framework keys create --user ID`, stored as a
salted digest: framework.serve.keys). No key, or a malformed, unknown or revoked one: 401. A path
or body that names another user: 403 (a key reaches only its own user; `me` in a path is the
key's user). Errors are OpenAI-style bodies, `{"error": {"message", "type", "param", "code"}}`,
whose message names the argument at fault and the fix.

`POST /v1/chat/completions` runs ONE turn of the agent: the new turn is the LAST message whose
role is `user`; earlier messages are ignored, because the framework keeps the conversation itself
(working memory, per session). `model`, `temperature` and other sampling fields are accepted and
ignored: the agent has its model. The session is the `X-Session-Id` header, else
`metadata.session_id` in the body, else `default` (one running conversation per user). The body's
`user` field, when given, must be the key's user. `stream: true` answers with server-sent
events, `data: {chat.completion.chunk}` lines ending with `data: [DONE]`; a turn that failed ends
its stream with a `data: {"error": ...}` event (non-streaming: 502). Each response carries a
`framework` object: session, memory job, the tool calls with the gate's verdicts.

Several workers (processes) share one store and one working memory when the settings name
PostgreSQL (FRAMEWORK_DATABASE_URL) and Redis (FRAMEWORK_WORKING_URL). Before a turn, a recall, a
list or an export, the service waits (bounded by memory_wait_s) until no worker has memory work of
that user queued or running (`MemoryManager.settle_everywhere`): whichever worker answered the
previous turn, what it taught is applied. The user's memory jobs are applied one at a time in the
order they were queued, across workers (framework.memory.jobs).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from framework.errors import InvalidInput
from framework.serve.openai_wire import ChatMessage, ChatRequest, Reply, error_body, stream_events

if TYPE_CHECKING:
    from framework.agent import Agent
    from framework.serve.keys import KeyStore

AGENT_ENV = "FRAMEWORK_SERVE_AGENT"  # the agent a worker serves (framework serve sets it)
DEFAULT_SESSION = "default"
MemoryKind = Literal["fact", "preference", "constraint", "outcome"]


# --- the request bodies -------------------------------------------------------------------------
class Decision(BaseModel):
    ops: list[dict[str, Any]]


# --- the service --------------------------------------------------------------------------------
@dataclass
class Service:
    """What one worker process serves with: the agent and the key store of its memory."""

    agent: Agent
    keys: KeyStore

    @property
    def name(self) -> str:
        return self.agent.name


def build_agent(agent_spec: str | None) -> Agent:
    """The agent a worker serves, named as `framework chat --agent` takes it; settings (model,
    home, embedder, database, working memory) from the environment, as for every command."""
    from framework.agent_class import load_agent_class
    from framework.llm import LiteLLMModel
    from framework.llm.litellm_model import import_litellm

    cls = load_agent_class(agent_spec or "assistant")
    agent = cls()
    if isinstance(agent.llm, LiteLLMModel):  # seconds of imports now, not in the first users' turns
        import_litellm()
        import instructor  # noqa: F401 - the structured calls' (the memory work's)
    return agent


def active_keys(keys: KeyStore) -> int:
    return sum(1 for k in keys.list() if k.revoked_at is None)


def open_service(agent: Agent) -> Service:
    """The agent with its key store; refuses (fail closed) a store that has no active API key."""
    from framework.errors import ConfigurationError
    from framework.serve.keys import KeyStore

    keys = KeyStore(agent.memory.engine)
    if not active_keys(keys):
        raise ConfigurationError(
            "the memory store has no active API key, so no request could be served: create one "
            "with `framework keys create --user ID` (same --home / FRAMEWORK_DATABASE_URL)"
        )
    return Service(agent, keys)


def create_app(service: Service | None = None) -> FastAPI:
    """The app. Without `service`, each worker builds its own at start-up from the environment
    (FRAMEWORK_SERVE_AGENT and the usual settings): this is uvicorn's factory."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = service is None
        if own:
            agent = await asyncio.to_thread(build_agent, os.environ.get(AGENT_ENV))
            try:
                app.state.service = await asyncio.to_thread(open_service, agent)
            except BaseException:
                await asyncio.to_thread(agent.close)
                raise
        else:
            app.state.service = service
        try:
            yield
        finally:
            if own:
                await asyncio.to_thread(app.state.service.agent.close)

    app = FastAPI(
        title="framework",
        summary="An agent with a governed memory: OpenAI-compatible chat, memory over REST.",
        version="1",
        lifespan=lifespan,
    )
    _errors(app)
    _routes(app)
    return app


# --- authentication -----------------------------------------------------------------------------
_bearer = HTTPBearer(auto_error=False, description="an API key: fwk_... (framework keys create --user ID)")


def _service(request: Request) -> Service:
    return request.app.state.service


async def key_user(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> str:
    """The user of the request's API key; 401 without a valid one."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _error(
            401, "no API key: send 'Authorization: Bearer fwk_...' (framework keys create --user ID)"
        )
    user = await run_in_threadpool(_service(request).keys.user_of, credentials.credentials)
    if user is None:
        raise _error(
            401, "invalid API key (malformed, unknown or revoked): create one with framework keys create"
        )
    return user


def same_user(
    user_id: str = Path(description="the key's user (or `me`)"), user: str = Depends(key_user)
) -> str:
    """The path's user, which must be the key's own: 403 otherwise."""
    if user_id not in ("me", user):
        raise _error(403, f"this API key belongs to another user: it reaches only user {user!r} (or 'me')")
    return user


# --- errors -------------------------------------------------------------------------------------
class ServiceError(HTTPException):
    def __init__(self, status: int, message: str, param: str | None = None, kind: str | None = None) -> None:
        super().__init__(status, message)
        self.param = param
        self.kind = kind


def _error(status: int, message: str, param: str | None = None, kind: str | None = None) -> ServiceError:
    return ServiceError(status, message, param, kind)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        param, kind = getattr(exc, "param", None), getattr(exc, "kind", None)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail), param, kind), exc.status_code, headers
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = list(first.get("loc", ()))
        where = ".".join(str(p) for p in (loc[1:] if loc[:1] in (["body"], ["query"], ["path"]) else loc))
        message = f"{where or 'request'}: {first.get('msg', 'invalid')}; see /docs for the expected shape"
        return JSONResponse(error_body(400, message, where or None), 400)

    @app.exception_handler(InvalidInput)
    async def invalid_input(request: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(error_body(400, str(exc)), 400)


# --- the routes ---------------------------------------------------------------------------------
def _routes(app: FastAPI) -> None:  # noqa: C901 - one function per route, registered here
    @app.get("/health", tags=["service"])
    async def health(request: Request) -> JSONResponse:
        """Whether this worker can reach its store; no key needed, no user data."""
        service = _service(request)
        try:
            await run_in_threadpool(_ping, service.agent)
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, 503)
        settings = service.agent.settings
        return JSONResponse(
            {
                "status": "ok",
                "agent": service.name,
                "store": settings.database_url.split(":", 1)[0].split("+")[0],
                "working_memory": "redis" if settings.working_url else "diskcache",
                "pid": os.getpid(),
            }
        )

    @app.post("/v1/chat/completions", tags=["chat"])
    async def chat_completions(
        body: ChatRequest,
        request: Request,
        user: str = Depends(key_user),
        x_session_id: str | None = Header(
            None, description="the conversation (default: metadata.session_id)"
        ),
    ) -> Any:
        """One turn of the agent, OpenAI-compatible (streaming SSE with `stream: true`). Only the
        LAST user message is the new turn: the framework keeps the conversation in working memory."""
        service = _service(request)
        if body.user is not None and body.user != user:
            raise _error(
                403, f"user {body.user!r} is not this API key's user: omit 'user' or send {user!r}", "user"
            )
        text = _last_user_text(body.messages)
        session_id = x_session_id or str((body.metadata or {}).get("session_id") or "") or DEFAULT_SESSION
        from framework.inputs import checked_message

        try:  # refused (400) before anything runs
            text = checked_message(text, service.agent.settings.max_message_chars)
        except InvalidInput as exc:
            raise _error(400, f"messages: the last user message is refused: {exc}", "messages") from None
        session = service.agent.session(user, session_id)
        await run_in_threadpool(service.agent.memory.settle_everywhere, user)
        reply = Reply(service.name, session.session_id)
        if body.stream:
            usage = bool((body.stream_options or {}).get("include_usage"))
            return StreamingResponse(
                stream_events(session.astream(text), reply, usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        turn = await session.asend(text)
        if turn.failed:
            raise _error(502, f"the turn failed: {turn._error}", kind="model_error")
        return reply.completion(turn)

    @app.get("/v1/users/{user_id}/recall", tags=["memory"])
    async def recall(
        request: Request,
        query: str = Query(min_length=1, description="what the memories should be about"),
        user: str = Depends(same_user),
    ) -> dict[str, Any]:
        """What the agent would recall for `query`: every active preference and constraint, the
        best-ranked facts and outcomes with each signal's score, what was dropped and why."""
        memory = _service(request).agent.memory
        await run_in_threadpool(memory.settle_everywhere, user)
        found = await run_in_threadpool(memory.recall, user, query)
        return {
            "user_id": user,
            "query": query,
            "preferences": [_entry(m) for m in found.preferences],
            "constraints": [_entry(m) for m in found.constraints],
            "relevant": [
                {
                    "memory": _entry(r.memory),
                    "score": r.score,
                    "via": r.via,
                    "signals": r.signals,
                    "relevance_parts": r.relevance_parts,
                }
                for r in found.relevant
            ],
            "dropped": {str(k): v for k, v in found.dropped.items()},
            "candidates": found.candidates,
            "warnings": found.warnings,
            "explanation": found.explain(),
        }

    @app.get("/v1/users/{user_id}/memories", tags=["memory"])
    async def list_memories(
        request: Request,
        type: list[MemoryKind] | None = Query(None, description="only these types (repeatable)"),
        tag: list[str] | None = Query(None, description="only memories with one of these tags"),
        all: bool = Query(False, description="include superseded and forgotten memories"),
        user: str = Depends(same_user),
    ) -> dict[str, Any]:
        """Every memory of the user (active only unless `all`), complete, never a top-k."""
        memory = _service(request).agent.memory
        await run_in_threadpool(memory.settle_everywhere, user)
        if all:
            entries = [
                m
                for m in await run_in_threadpool(memory.long_term.all_entries, user)
                if (not type or m.memory_type in type) and (not tag or set(tag) & set(m.tags))
            ]
        else:
            entries = await run_in_threadpool(memory.long_term.active, user, type or None, tag or None)
        return {"user_id": user, "memories": [_entry(m) for m in entries]}

    @app.delete("/v1/users/{user_id}/memories/{memory_id}", tags=["memory"])
    async def forget(
        request: Request,
        memory_id: int,
        hard: bool = Query(False, description="delete it now (row and indexes) instead of forgetting it"),
        reason: str = Query("forgotten on request (HTTP)", max_length=500),
        user: str = Depends(same_user),
    ) -> dict[str, Any]:
        """Forget one memory (never recalled again; the audit keeps why), or delete it with `hard`."""
        lt = _service(request).agent.memory.long_term
        act = lt.delete if hard else lt.forget
        done = await run_in_threadpool(lambda: act(user, memory_id, actor="user", reason=reason))
        if not done:
            which = "memory" if hard else "active memory"
            raise _error(404, f"no {which} #{memory_id} for this user (list them: GET /v1/users/me/memories)")
        return {"user_id": user, "memory_id": memory_id, "done": "deleted" if hard else "forgotten"}

    @app.get("/v1/users/{user_id}/export", tags=["memory"])
    async def export(request: Request, user: str = Depends(same_user)) -> dict[str, Any]:
        """Everything stored about the user: memories (every status) and the audit trail."""
        memory = _service(request).agent.memory
        await run_in_threadpool(memory.settle_everywhere, user)
        return await run_in_threadpool(memory.export, user)

    @app.delete("/v1/users/{user_id}", tags=["memory"])
    async def delete_user(request: Request, user: str = Depends(same_user)) -> dict[str, Any]:
        """Erase everything stored about the user — memories and their indexes, pending writes,
        audit text, sessions, memory jobs and API keys (this key stops working)."""
        memory = _service(request).agent.memory
        await run_in_threadpool(memory.settle_everywhere, user)
        counts = await run_in_threadpool(
            memory.delete_user, user, actor="user", reason="erasure requested (HTTP)"
        )
        return {"user_id": user, "deleted": counts}

    @app.get("/v1/users/{user_id}/pending", tags=["approvals"])
    async def pending(request: Request, user: str = Depends(same_user)) -> dict[str, Any]:
        """Memory writes waiting for a human's approval (when the agent's write policy asks)."""
        rows = await run_in_threadpool(_service(request).agent.memory.queue.pending, user)
        return {
            "user_id": user,
            "pending": [
                {
                    "id": r.id,
                    "action": r.action,
                    "target": r.target,
                    "content": r.candidate.get("content"),
                    "memory_type": r.candidate.get("memory_type"),
                    "reason": r.reason,
                    "session_id": r.session_id,
                }
                for r in rows
            ],
        }

    async def decide(request: Request, user: str, pending_id: int, approved: bool) -> Decision:
        memory = _service(request).agent.memory
        try:
            ops = await run_in_threadpool(memory.approve, user, pending_id, approved)
        except KeyError:
            raise _error(
                404, f"no pending write {pending_id} for this user (list them: GET /v1/users/me/pending)"
            ) from None
        return Decision(
            ops=[
                {"kind": o.kind, "memory_id": o.memory_id, "content": o.content, "reason": o.reason}
                for o in ops
            ]
        )

    @app.post("/v1/users/{user_id}/pending/{pending_id}/approve", tags=["approvals"])
    async def approve(request: Request, pending_id: int, user: str = Depends(same_user)) -> Decision:
        """Carry out a pending write: the memory is written (its origin: this approval)."""
        return await decide(request, user, pending_id, True)

    @app.post("/v1/users/{user_id}/pending/{pending_id}/reject", tags=["approvals"])
    async def reject(request: Request, pending_id: int, user: str = Depends(same_user)) -> Decision:
        """Drop a pending write (the rejection is audited)."""
        return await decide(request, user, pending_id, False)


def _ping(agent: Agent) -> None:
    with agent.memory.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def _entry(m: Any) -> dict[str, Any]:
    return m.model_dump(mode="json", exclude={"embedder"})


def _last_user_text(messages: list[ChatMessage]) -> str:
    """The text of the last message whose role is `user` (text parts joined)."""
    last = next((m for m in reversed(messages) if m.role == "user"), None)
    if last is None:
        raise _error(
            400, "messages: no message with role 'user'; the last user message is the turn", "messages"
        )
    if isinstance(last.content, str):
        return last.content
    parts = last.content or []
    if any(p.get("type") != "text" for p in parts):
        raise _error(
            400, "messages: only text content parts are supported ({'type': 'text', 'text': ...})", "messages"
        )
    return "".join(str(p.get("text", "")) for p in parts)


__all__ = ["AGENT_ENV", "DEFAULT_SESSION", "Service", "build_agent", "create_app", "open_service"]
