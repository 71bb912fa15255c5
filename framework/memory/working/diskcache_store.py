"""L2 working memory in diskcache: the embedded default, nothing to run, shared safely by the
processes of one machine. The compare-and-set of a save is one SQLite transaction.

At rest: the folder is owner-only (0700; its SQLite file 0600, and the -wal and -shm SQLite makes
beside it take that mode), deleted states are overwritten with zeros (secure_delete), every value
stays inside that file (no loose value files), and with an encryption key each value is sealed
with AES-GCM (framework.memory.encryption). Deleting a user also empties the WAL into the file.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path

from framework.config import private_dir, private_file
from framework.memory.encryption import PlainValues, Values, check_working_store
from framework.memory.working.merge import next_stored, parse_state
from framework.memory.working.state import WorkingState
from framework.memory.working.store import session_of, state_key, user_prefix

_DB = "cache.db"  # diskcache's SQLite file in its folder
_MARKER = "encryption"  # a file beside it: how values are kept, readable before the cache opens
_INLINE = 2**28  # values up to this size stay in the SQLite file: all of a working state


class DiskcacheWorkingStore:
    """diskcache-backed store of WorkingState, keyed by (user, session). The default backend:
    embedded, nothing to run, shared safely by the processes of one machine."""

    def __init__(self, directory: Path, ttl_s: int, values: Values | None = None) -> None:
        import diskcache

        self.db = private_file(private_dir(Path(directory)) / _DB)
        self.marker = self.db.with_name(_MARKER)
        self.values: Values = values or PlainValues()
        if self.marker.exists():  # refuse a wrong key before diskcache writes its settings
            self.values.accepts_marker(self.marker.read_text(), str(directory))
        self.cache = diskcache.Cache(
            str(directory),
            sqlite_secure_delete=1,  # a pragma on every connection: deleted rows are zeroed
            disk_min_file_size=_INLINE,  # no value in a loose file, where deletion cannot zero it
        )
        for suffix in ("-wal", "-shm"):  # left by an older version with the umask's mode
            if (beside := self.db.with_name(_DB + suffix)).exists():
                private_file(beside)
        self.ttl_s = ttl_s
        check_working_store(self.values, str(directory), self._read_marker, self._add_marker, self._sample)

    _key = staticmethod(state_key)

    def _read_marker(self) -> str | None:
        return self.marker.read_text() if self.marker.exists() else None

    def _add_marker(self, marker: str) -> None:
        """Write the marker whole or not at all (another process may be writing its own)."""
        draft = self.marker.with_name(f".{_MARKER}.{os.getpid()}.{secrets.token_hex(4)}")
        private_file(draft).write_text(marker)
        try:
            os.link(draft, self.marker)
        except FileExistsError:
            pass
        finally:
            draft.unlink()

    def _sample(self) -> tuple[str, str] | None:
        """One stored state (key, value), to tell how a store without a marker keeps its values."""
        for key in self.cache.iterkeys():
            if isinstance(key, str) and (raw := self.cache.get(key, retry=True)):
                return key, raw
        return None

    def load(self, user_id: str | None, session_id: str) -> WorkingState:
        key = self._key(user_id, session_id)
        raw = self.cache.get(key, retry=True)
        if raw is None:
            return WorkingState(user_id=user_id, session_id=session_id)
        return parse_state(self.values.open(key, raw))

    def save(self, state: WorkingState) -> None:
        """Store (merging if another process saved since `state` was loaded) and extend the
        TTL: activity keeps a session alive."""
        key = self._key(state.user_id, state.session_id)
        with self.cache.transact(retry=True):  # BEGIN IMMEDIATE: one writer at a time
            stored = self.cache.get(key, retry=True)
            raw = next_stored(state, None if stored is None else self.values.open(key, stored))
            self.cache.set(key, self.values.seal(key, raw), expire=self.ttl_s, retry=True)
        state._adopt(raw)

    def clear(self, user_id: str | None, session_id: str) -> None:
        self.cache.delete(self._key(user_id, session_id), retry=True)

    def complete(self, user_id: str | None, session_id: str) -> WorkingState | None:
        """The task is done: drop its state, and return it (None if there was none)."""
        key = self._key(user_id, session_id)
        raw = self.cache.pop(key, retry=True)
        return None if raw is None else parse_state(self.values.open(key, raw))

    def delete_user(self, user_id: str) -> int:
        """Delete every session of the user (its state: task, conversation, rolling summary), its
        bytes zeroed, and empty the WAL into the file so that no copy is left there either."""
        prefix = user_prefix(user_id)
        keys = [k for k in self.cache.iterkeys() if isinstance(k, str) and k.startswith(prefix)]
        deleted = sum(bool(self.cache.delete(k, retry=True)) for k in keys)
        if deleted:
            with sqlite3.connect(self.db, timeout=30) as con:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            con.close()
        return deleted

    def sessions(self, user_id: str) -> list[WorkingState]:
        """The user's sessions that have not expired, most recently saved first."""
        prefix = user_prefix(user_id)
        keys = [k for k in self.cache.iterkeys() if isinstance(k, str) and k.startswith(prefix)]
        states = [self.load(user_id, session_of(k)) for k in keys]
        return sorted((s for s in states if s.version), key=lambda s: s.updated_at, reverse=True)

    def close(self) -> None:
        self.cache.close()
