"""L2 working memory: one session's task state, kept in diskcache with a TTL.

The state survives a process restart (a session resumes where it was) and expires when the
session has been idle for the TTL. Everything stored here that came from a user or a tool has
been redacted first: secrets never reach the cache files.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from framework.memory.records import utcnow


class ToolRecord(BaseModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    ok: bool
    decision: str  # the gate's verdict
    at: datetime = Field(default_factory=utcnow)


class ConversationLine(BaseModel):
    role: str
    content: str


MAX_CONVERSATION_LINES = 60  # older lines are what the context window would evict anyway
MAX_TOOL_RECORDS = 200


class WorkingState(BaseModel):
    """What a session is doing now. Redacted before it is stored."""

    user_id: str | None  # None: an anonymous session
    session_id: str
    goal: str | None = None
    phase: str | None = None
    tool_history: list[ToolRecord] = Field(default_factory=list)
    conversation: list[ConversationLine] = Field(default_factory=list)
    written_ids: list[int] = Field(default_factory=list)  # memories this session wrote
    writes: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def succeeded(self, tool: str) -> bool:
        return any(r.name == tool and r.ok for r in self.tool_history)


class WorkingMemory:
    """diskcache-backed store of WorkingState, keyed by (user, session)."""

    def __init__(self, directory: Path, ttl_s: int) -> None:
        import diskcache

        self.cache = diskcache.Cache(str(directory))
        self.ttl_s = ttl_s

    @staticmethod
    def _key(user_id: str | None, session_id: str) -> str:
        # Each id is quoted so that ("a:b", "c") and ("a", "b:c") never share an entry; "*" never
        # comes out of quote(), so anonymous sessions cannot collide with a user named anything.
        user = "*" if user_id is None else quote(user_id, safe="")
        return f"working:{user}:{quote(session_id, safe='')}"

    def load(self, user_id: str | None, session_id: str) -> WorkingState:
        raw = self.cache.get(self._key(user_id, session_id))
        if raw is None:
            return WorkingState(user_id=user_id, session_id=session_id)
        return WorkingState.model_validate_json(raw)

    def save(self, state: WorkingState) -> None:
        """Store and extend the TTL: activity keeps a session alive."""
        state.updated_at = utcnow()
        del state.conversation[:-MAX_CONVERSATION_LINES]
        del state.tool_history[:-MAX_TOOL_RECORDS]
        self.cache.set(self._key(state.user_id, state.session_id), state.model_dump_json(), expire=self.ttl_s)

    def clear(self, user_id: str | None, session_id: str) -> None:
        self.cache.delete(self._key(user_id, session_id))

    def delete_user(self, user_id: str) -> int:
        prefix = f"working:{quote(user_id, safe='')}:"
        keys = [k for k in self.cache.iterkeys() if isinstance(k, str) and k.startswith(prefix)]
        for k in keys:
            self.cache.delete(k)
        return len(keys)

    def close(self) -> None:
        self.cache.close()
