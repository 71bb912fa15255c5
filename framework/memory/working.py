"""L2 working memory: one session's task state, kept with a TTL in diskcache or Redis.

The state survives a process restart (a task resumes where it was, in any process) and expires
when the session has been idle for the TTL; `complete` drops it when the task is done.
Everything stored here that came from a user or a tool has been redacted by the caller first:
secrets never reach the store.

Concurrency. Sessions are keyed by (user, session), so two sessions of one user never touch
each other's state. Within one session, every stored state carries a `version` (the number of
saves). `save` is a compare-and-set: when the store still holds exactly what this state was
loaded from (compared whole, so a state deleted and re-created meanwhile counts as moved), or
holds nothing (cleared, completed, expired), the state is written as is. When another process
saved in between, `save` does not overwrite it but merges this state's changes into the stored
one (three-way, against the state as loaded): lists keep both sides' additions and honour
removals, `intermediate_results` merges per key, `writes` adds both sides' increments, and a
scalar (goal, phase) changed on both sides takes this save's value, with a warning logged.
The caller's object is updated in place to what was stored, new version included. The check
and the write are one atomic step on each backend (a SQLite transaction in diskcache,
WATCH/MULTI/EXEC in Redis).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, Field, PrivateAttr

from framework.errors import ConfigurationError
from framework.memory.records import utcnow

if TYPE_CHECKING:
    from framework.config import Settings

log = logging.getLogger(__name__)


class ToolRecord(BaseModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    ok: bool
    decision: str  # the gate's verdict
    at: datetime = Field(default_factory=utcnow)


class ConversationLine(BaseModel):
    role: str
    content: str


class Decision(BaseModel):
    """A choice made during the task, and why: what a resumed task must not re-litigate."""

    decision: str
    rationale: str = ""
    at: datetime = Field(default_factory=utcnow)


MAX_CONVERSATION_LINES = 60  # older lines are what the context window would evict anyway
MAX_TOOL_RECORDS = 200


class WorkingState(BaseModel):
    """What a session is doing now. Redacted before it is stored."""

    user_id: str | None  # None: an anonymous session
    session_id: str
    goal: str | None = None
    phase: str | None = None
    completed_steps: list[str] = Field(default_factory=list)
    pending_actions: list[str] = Field(default_factory=list)
    intermediate_results: dict[str, Any] = Field(default_factory=dict)  # JSON values
    decisions: list[Decision] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)  # for this task only, not long-term
    tool_history: list[ToolRecord] = Field(default_factory=list)
    conversation: list[ConversationLine] = Field(default_factory=list)
    summary: str = ""  # the rolling summary of conversation lines folded out of the window
    folded_lines: int = 0  # how many lines the summary stands for
    written_ids: list[int] = Field(default_factory=list)  # memories this session wrote
    writes: int = 0
    version: int = 0  # how many times this session's state was saved; 0: never
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    # The JSON this state was loaded from (or last saved as): the base of a three-way merge.
    _base: str | None = PrivateAttr(default=None)
    _stored_as_is: bool = PrivateAttr(default=False)  # set by next_stored's no-merge path

    def __eq__(self, other: object) -> bool:  # the merge base is bookkeeping, not state
        return isinstance(other, WorkingState) and self.model_dump() == other.model_dump()

    def succeeded(self, tool: str) -> bool:
        return any(r.name == tool and r.ok for r in self.tool_history)

    def decide(self, decision: str, rationale: str = "") -> Decision:
        made = Decision(decision=decision, rationale=rationale)
        self.decisions.append(made)
        return made

    def complete_step(self, step: str) -> None:
        """Record `step` as done; it is no longer pending."""
        if step in self.pending_actions:
            self.pending_actions.remove(step)
        self.completed_steps.append(step)

    def _adopt(self, stored: str) -> None:
        """Become what was stored (after a save that may have merged): fields, version, base."""
        if self._stored_as_is:  # nothing was merged: this object already is what was stored
            self._stored_as_is, self._base = False, stored
            return
        fresh = WorkingState.model_validate_json(stored)
        for name in type(self).model_fields:
            setattr(self, name, getattr(fresh, name))
        self._base = stored


class WorkingStore(Protocol):
    """Where working state lives. Backends: `WorkingMemory` (diskcache) and
    `framework.memory.working_redis.RedisWorkingMemory`."""

    ttl_s: int

    def load(self, user_id: str | None, session_id: str) -> WorkingState: ...

    def save(self, state: WorkingState) -> None: ...

    def clear(self, user_id: str | None, session_id: str) -> None: ...

    def complete(self, user_id: str | None, session_id: str) -> WorkingState | None: ...

    def delete_user(self, user_id: str) -> int: ...

    def close(self) -> None: ...


def state_key(user_id: str | None, session_id: str, prefix: str = "working") -> str:
    # Each id is quoted so that ("a:b", "c") and ("a", "b:c") never share an entry; "*" never
    # comes out of quote(), so anonymous sessions cannot collide with a user named anything.
    # quote() also escapes the glob characters * ? [ ], so a user's prefix is a safe pattern.
    user = "*" if user_id is None else quote(user_id, safe="")
    return f"{prefix}:{user}:{quote(session_id, safe='')}"


def user_prefix(user_id: str, prefix: str = "working") -> str:
    return f"{prefix}:{quote(user_id, safe='')}:"


def parse_state(raw: str | bytes) -> WorkingState:
    state = WorkingState.model_validate_json(raw)
    state._base = raw.decode() if isinstance(raw, bytes) else raw
    return state


def next_stored(state: WorkingState, stored: str | bytes | None) -> str:
    """The JSON to store for `state`, given what is stored now: `state` itself when the store
    still holds exactly what `state` was loaded from (or nothing), else `state`'s changes merged
    into the stored state. Comparing the whole stored text, not only the version, means a state
    deleted and re-created meanwhile (same version number, other content) is merged too."""
    if isinstance(stored, bytes):
        stored = stored.decode()
    if stored is None or stored == state._base:
        # Nobody else saved: store `state` as it is. No copy: the caller adopts what is stored.
        result, stored_version = state, 0
        state._stored_as_is = True
    else:
        current = WorkingState.model_validate_json(stored)
        result, stored_version = _merge(state, current), current.version
    result.version = max(state.version, stored_version) + 1
    result.updated_at = utcnow()
    del result.conversation[:-MAX_CONVERSATION_LINES]
    del result.tool_history[:-MAX_TOOL_RECORDS]
    return result.model_dump_json()


# Lists whose items are a set: an item both sides added is kept once.
_SET_LIKE = {"completed_steps", "pending_actions", "constraints", "written_ids"}
_COUNTERS = {"writes"}
_KEPT = {"user_id", "session_id", "version", "created_at", "updated_at"}  # taken from the store


def _merge(ours: WorkingState, theirs: WorkingState) -> WorkingState:
    empty = WorkingState(user_id=ours.user_id, session_id=ours.session_id, created_at=theirs.created_at)
    base = json.loads(ours._base) if ours._base is not None else empty.model_dump(mode="json")
    mine, stored = ours.model_dump(mode="json"), theirs.model_dump(mode="json")
    merged = dict(stored)
    clashes = []
    for name, value in mine.items():
        if name in _KEPT:
            continue
        was, now = base.get(name), stored.get(name)
        if isinstance(value, list):
            merged[name] = _merge_list(was or [], value, now or [], name in _SET_LIKE)
        elif isinstance(value, dict):
            merged[name] = _merge_dict(was or {}, value, now or {})
        elif name in _COUNTERS:
            merged[name] = (now or 0) + value - (was or 0)
        elif value != was:
            if now not in (was, value):
                clashes.append(name)
            merged[name] = value
    if clashes:
        log.warning(
            "working state of session %r changed concurrently; this save's %s replaced the other's",
            ours.session_id,
            ", ".join(clashes),
        )
    return WorkingState.model_validate(merged)


def _identity(item: Any) -> str:
    return json.dumps(item, sort_keys=True)


def _merge_list(base: list[Any], ours: list[Any], theirs: list[Any], set_like: bool) -> list[Any]:
    """theirs, less what ours removed from base, plus what ours added (in ours' order)."""
    before, after = Counter(map(_identity, base)), Counter(map(_identity, ours))
    removed, added = before - after, after - before
    out = []
    for item in theirs:
        key = _identity(item)
        if removed[key] > 0:
            removed[key] -= 1
        else:
            out.append(item)
    present = {_identity(item) for item in out}
    extra = []
    for item in reversed(ours):  # the most recent occurrences are the added ones
        key = _identity(item)
        if added[key] > 0:
            added[key] -= 1
            if not (set_like and key in present):
                extra.append(item)
    return out + extra[::-1]


def _merge_dict(base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    out = dict(theirs)
    for key in base.keys() - ours.keys():
        out.pop(key, None)
    for key, value in ours.items():
        if key not in base or base[key] != value:
            out[key] = value
    return out


class WorkingMemory:
    """diskcache-backed store of WorkingState, keyed by (user, session). The default backend:
    embedded, nothing to run, shared safely by the processes of one machine."""

    def __init__(self, directory: Path, ttl_s: int) -> None:
        import diskcache

        self.cache = diskcache.Cache(str(directory))
        self.ttl_s = ttl_s

    _key = staticmethod(state_key)

    def load(self, user_id: str | None, session_id: str) -> WorkingState:
        raw = self.cache.get(self._key(user_id, session_id), retry=True)
        if raw is None:
            return WorkingState(user_id=user_id, session_id=session_id)
        return parse_state(raw)

    def save(self, state: WorkingState) -> None:
        """Store (merging if another process saved since `state` was loaded) and extend the
        TTL: activity keeps a session alive."""
        key = self._key(state.user_id, state.session_id)
        with self.cache.transact(retry=True):  # BEGIN IMMEDIATE: one writer at a time
            raw = next_stored(state, self.cache.get(key, retry=True))
            self.cache.set(key, raw, expire=self.ttl_s, retry=True)
        state._adopt(raw)

    def clear(self, user_id: str | None, session_id: str) -> None:
        self.cache.delete(self._key(user_id, session_id), retry=True)

    def complete(self, user_id: str | None, session_id: str) -> WorkingState | None:
        """The task is done: drop its state, and return it (None if there was none)."""
        raw = self.cache.pop(self._key(user_id, session_id), retry=True)
        return None if raw is None else parse_state(raw)

    def delete_user(self, user_id: str) -> int:
        prefix = user_prefix(user_id)
        keys = [k for k in self.cache.iterkeys() if isinstance(k, str) and k.startswith(prefix)]
        return sum(bool(self.cache.delete(k, retry=True)) for k in keys)

    def close(self) -> None:
        self.cache.close()


REDIS_SCHEMES = ("redis", "rediss", "unix")


def shown_url(url: str) -> str:
    """`url` fit for a message or a log: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def open_working_memory(settings: Settings) -> WorkingStore:
    """The backend `settings.working_url` names: unset means diskcache in $FRAMEWORK_HOME/working,
    redis://host:port/db (or rediss://, unix://) means that Redis server."""
    url = settings.working_url
    if url is None:
        return WorkingMemory(settings.home / "working", settings.working_ttl_s)
    if urlsplit(url).scheme in REDIS_SCHEMES:
        from framework.memory.working_redis import RedisWorkingMemory

        return RedisWorkingMemory(url, settings.working_ttl_s)
    source = settings.sources.get("working_url", "?")
    raise ConfigurationError(
        f"setting 'working_url' from {source} is {shown_url(url)!r}: use redis://HOST:PORT/DB for Redis, "
        f"or leave it unset for diskcache in {settings.home / 'working'}"
    )
