"""L2 working memory on a Redis server: the scale-out backend, shared by processes on many hosts.

Same contract as the diskcache backend (see framework.memory.working.merge): one key per (user,
session) holding the state as JSON, written with SET EX (SETEX) so that every save extends the TTL, and
a compare-and-set on the state's version done with WATCH/MULTI/EXEC: if another client saved
between our read and our write, EXEC fails, and we read again and merge.

With an encryption key each value is sealed with AES-GCM (framework.memory.encryption); key names
hold the user and session ids only. What the server's own persistence (RDB, AOF) keeps of a
deleted key until it rewrites its files is the server's: see README "Security".
"""

from __future__ import annotations

from typing import Any

from framework.config import shown_url
from framework.errors import StoreError
from framework.memory.encryption import PlainValues, Values, check_working_store
from framework.memory.working.merge import next_stored, parse_state
from framework.memory.working.state import WorkingState
from framework.memory.working.store import session_of, state_key, user_prefix

MAX_SAVE_ATTEMPTS = 50  # each failed attempt means another client's save succeeded meanwhile


class RedisWorkingStore:
    """WorkingState in Redis, under keys `framework:working:<user>:<session>`."""

    def __init__(
        self, url: str, ttl_s: int, prefix: str = "framework:working", values: Values | None = None
    ) -> None:
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
        self.values: Values = values or PlainValues()
        marker = f"{prefix}:~encryption"  # never a state's key: those have two colons after the prefix
        check_working_store(
            self.values,
            shown_url(url),
            lambda: self.client.get(marker),
            lambda sealed: self.client.set(marker, sealed, nx=True),
            self._sample,
        )

    def _sample(self) -> tuple[str, str] | None:
        """One stored state (key, value), to tell how a store without a marker keeps its values."""
        for key in self.client.scan_iter(match=f"{self.prefix}:*:*", count=500):
            if (raw := self.client.get(key)) is not None:
                return str(key), str(raw)
        return None

    def _key(self, user_id: str | None, session_id: str) -> str:
        return state_key(user_id, session_id, self.prefix)

    def load(self, user_id: str | None, session_id: str) -> WorkingState:
        key = self._key(user_id, session_id)
        raw = self.client.get(key)
        if raw is None:
            return WorkingState(user_id=user_id, session_id=session_id)
        return parse_state(self.values.open(key, raw))

    def save(self, state: WorkingState) -> None:
        """Store (merging if another client saved since `state` was loaded) and extend the TTL."""
        from redis.exceptions import WatchError

        key = self._key(state.user_id, state.session_id)
        with self.client.pipeline() as pipe:
            for _ in range(MAX_SAVE_ATTEMPTS):
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    raw = next_stored(state, None if stored is None else self.values.open(key, stored))
                    pipe.multi()
                    pipe.set(key, self.values.seal(key, raw), ex=self.ttl_s)  # SETEX: extends the TTL
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
        key = self._key(user_id, session_id)
        raw = self.client.getdel(key)
        return None if raw is None else parse_state(self.values.open(key, raw))

    def delete_user(self, user_id: str) -> int:
        """Delete every session of the user: its state, conversation and rolling summary."""
        keys = list(self.client.scan_iter(match=user_prefix(user_id, self.prefix) + "*", count=500))
        return int(self.client.delete(*keys)) if keys else 0

    def sessions(self, user_id: str) -> list[WorkingState]:
        """The user's sessions that have not expired, most recently saved first."""
        keys = self.client.scan_iter(match=user_prefix(user_id, self.prefix) + "*", count=500)
        states = [self.load(user_id, session_of(k.decode() if isinstance(k, bytes) else k)) for k in keys]
        return sorted((s for s in states if s.version), key=lambda s: s.updated_at, reverse=True)

    def close(self) -> None:
        self.client.close()
