"""L2 working memory in diskcache: the embedded default, nothing to run, shared safely by the
processes of one machine. The compare-and-set of a save is one SQLite transaction."""

from __future__ import annotations

from pathlib import Path

from framework.memory.working.merge import next_stored, parse_state
from framework.memory.working.state import WorkingState
from framework.memory.working.store import state_key, user_prefix


class DiskcacheWorkingStore:
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
