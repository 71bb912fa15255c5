"""L2 working memory on a Redis server: the scale-out backend, shared by processes on many hosts.

Same contract as the diskcache backend (see framework.memory.working.merge): one key per (user,
session) holding the state as JSON, written with SET EX (SETEX) so that every save extends the TTL, and
a compare-and-set on the state's version done with WATCH/MULTI/EXEC: if another client saved
between our read and our write, EXEC fails, and we read again and merge.
"""

from __future__ import annotations

from typing import Any

from framework.config import shown_url
from framework.errors import StoreError
from framework.memory.working.merge import next_stored, parse_state
from framework.memory.working.state import WorkingState
from framework.memory.working.store import state_key, user_prefix

MAX_SAVE_ATTEMPTS = 50  # each failed attempt means another client's save succeeded meanwhile


class RedisWorkingStore:
    """WorkingState in Redis, under keys `framework:working:<user>:<session>`."""

    def __init__(self, url: str, ttl_s: int, prefix: str = "framework:working") -> None:
        import redis

        self.url, self.ttl_s, self.prefix = url, ttl_s, prefix
        self.client: Any = redis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=5, socket_timeout=30
        )
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise StoreError(
                f"working memory: cannot reach Redis at {shown_url(url)} ({exc}); start the server, "
                "or unset working_url (FRAMEWORK_WORKING_URL) to keep working state in diskcache"
            ) from exc

    def _key(self, user_id: str | None, session_id: str) -> str:
        return state_key(user_id, session_id, self.prefix)

    def load(self, user_id: str | None, session_id: str) -> WorkingState:
        raw = self.client.get(self._key(user_id, session_id))
        if raw is None:
            return WorkingState(user_id=user_id, session_id=session_id)
        return parse_state(raw)

    def save(self, state: WorkingState) -> None:
        """Store (merging if another client saved since `state` was loaded) and extend the TTL."""
        from redis.exceptions import WatchError

        key = self._key(state.user_id, state.session_id)
        with self.client.pipeline() as pipe:
            for _ in range(MAX_SAVE_ATTEMPTS):
                try:
                    pipe.watch(key)
                    raw = next_stored(state, pipe.get(key))
                    pipe.multi()
                    pipe.set(key, raw, ex=self.ttl_s)  # SETEX: every save extends the TTL
                    pipe.execute()
                except WatchError:
                    continue
                state._adopt(raw)
                return
        raise StoreError(
            f"working memory: session {state.session_id!r} was saved concurrently "
            f"{MAX_SAVE_ATTEMPTS} times while this save retried; nothing was written"
        )

    def clear(self, user_id: str | None, session_id: str) -> None:
        self.client.delete(self._key(user_id, session_id))

    def complete(self, user_id: str | None, session_id: str) -> WorkingState | None:
        """The task is done: drop its state, and return it (None if there was none)."""
        raw = self.client.getdel(self._key(user_id, session_id))
        return None if raw is None else parse_state(raw)

    def delete_user(self, user_id: str) -> int:
        keys = list(self.client.scan_iter(match=user_prefix(user_id, self.prefix) + "*", count=500))
        return int(self.client.delete(*keys)) if keys else 0

    def close(self) -> None:
        self.client.close()
