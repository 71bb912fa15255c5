"""L3 long-term memory: scoped storage, its lifecycle writes (each audited), structured
retrieval and hybrid recall (framework.memory.longterm.search); the audit trail and the batched
recall audit (framework.memory.longterm.audit) and hard deletion (framework.memory.longterm.erasure)
are handed on to their modules.

Every method takes a user_id and every query filters on it: there is no unscoped read path.
Structured retrieval (`active`, `get`, `all_entries`) is complete, never top-k. The database is
SQLite or PostgreSQL; what differs between them is the backend's (framework.memory.longterm.backends).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import configure_mappers
from sqlmodel import Session

from framework.memory.longterm.audit import AUDIT_TABLE, AuditTrail
from framework.memory.longterm.backends import (
    LARGE_IMPORT,
    backend_for,
    execute,
    write_session,
    write_transaction,
)
from framework.memory.longterm.erasure import Erasure
from framework.memory.longterm.focus import Embed, QueryFocus, embedded
from framework.memory.longterm.records import (
    COLUMN_LIST,
    COLUMNS,
    AuditEvent,
    MemoryEntry,
    MemoryStatus,
    as_utc,
    entry_from_row,
    stamp,
    utcnow,
)
from framework.memory.longterm.search import HybridSearch, RankWeights, SearchQuery, SearchResult
from framework.memory.longterm.timeline import active_at


class LongTermMemory:
    def __init__(self, engine: Engine, weights: RankWeights | None = None) -> None:
        self.engine = engine
        self.backend = backend_for(engine)
        self.trail = AuditTrail(engine)  # the audit, and the recalls not yet written
        self.erasure = Erasure(engine, self.backend, self.trail)
        self.retrieval = HybridSearch(engine, weights or RankWeights())
        self.focus = QueryFocus(engine)
        # model_construct (used on the read path) needs the ORM mappers set up; in a fresh process
        # whose first store access is a read nothing else would have done it yet.
        configure_mappers()

    # --- writes (each call is one transaction, audited) ---------------------------------
    def add(
        self, entry: MemoryEntry, vector: list[float], *, actor: str = "runtime", reason: str = ""
    ) -> MemoryEntry:
        with write_session(self.engine) as s:
            self._insert(s, entry, vector, actor, reason)
            s.commit()
            s.refresh(entry)
        return entry

    def add_many(
        self,
        entries: list[MemoryEntry],
        vectors: list[list[float]],
        *,
        actor: str = "runtime",
        reason: str = "",
    ) -> list[MemoryEntry]:
        """Write many memories in one transaction (an import): each indexed and audited as `add`.

        Plain SQL, one executemany per table (memory, memory_vec, memory_fts, audit): the ORM's
        unit of work costs far more than the rows. The backend assigns the new ids (SQLite: one
        run under the write lock; PostgreSQL: from the sequence) before the index and audit rows
        are written."""
        if len(entries) != len(vectors):
            raise ValueError(f"{len(entries)} entries but {len(vectors)} vectors")
        if not entries:
            return entries
        insert = f"INSERT INTO memory ({COLUMN_LIST}) VALUES ({','.join('?' * len(COLUMNS))})"

        def row(entry: MemoryEntry) -> tuple[Any, ...]:
            """Column values (in COLUMNS order) as the ORM stores them: times as UTC text (naive
            ones as they are), tags as JSON."""
            values, loaded = [], entry.__dict__  # the instance's own values: no descriptor per column
            for name in COLUMNS:
                value = loaded[name] if name in loaded else getattr(entry, name)
                if isinstance(value, datetime):
                    value = stamp(value) if value.tzinfo else value.strftime("%Y-%m-%d %H:%M:%S.%f")
                elif name == "tags":
                    value = json.dumps(value)
                values.append(value)
            return tuple(values)

        given = [e for e in entries if e.id is not None]
        fresh = [e for e in entries if e.id is None]

        def assign(ids: list[int]) -> None:
            for entry, mid in zip(fresh, ids, strict=True):
                entry.id = mid

        with write_transaction(self.engine) as conn:
            self.backend.insert_memories(
                conn, insert, [row(e) for e in given], [row(e) for e in fresh], assign
            )
            self.backend.index(
                conn,
                [(e.id, e.user_id, e.content, v) for e, v in zip(entries, vectors, strict=True)],  # type: ignore[misc]
            )
            now = stamp(utcnow())
            execute(
                conn,
                "INSERT INTO audit (at, user_id, memory_id, operation, actor, reason, detail) "
                "VALUES (?, ?, ?, 'write', ?, ?, ?)",
                [
                    (
                        now,
                        e.user_id,
                        e.id,
                        actor,
                        reason,
                        json.dumps(
                            {
                                "type": e.memory_type,
                                "confidence": e.confidence,
                                "source": e.source,
                                "supersedes": e.supersedes,
                            }
                        ),
                    )
                    for e in entries
                ],
            )
        if len(entries) >= LARGE_IMPORT:
            with self.engine.begin() as conn:  # after the commit: holds no lock of the import's
                self.backend.imported(conn)
        return entries

    def _insert(self, s: Session, entry: MemoryEntry, vector: list[float], actor: str, reason: str) -> None:
        s.add(entry)
        s.flush()
        assert entry.id is not None
        self.backend.index(s.connection(), [(entry.id, entry.user_id, entry.content, vector)])
        s.add(
            AuditEvent(
                user_id=entry.user_id,
                memory_id=entry.id,
                operation="write",
                actor=actor,
                reason=reason,
                detail={
                    "type": entry.memory_type,
                    "confidence": entry.confidence,
                    "source": entry.source,
                    "supersedes": entry.supersedes,
                },
            )
        )

    def supersede(
        self,
        user_id: str,
        old_id: int,
        new: MemoryEntry,
        vector: list[float],
        *,
        actor: str,
        reason: str,
        said_at: datetime | None = None,
    ) -> MemoryEntry:
        """Write `new` in place of `old_id`: the old one is kept for audit, never recalled again.
        `said_at`: when the words that replaced it were said (event time, kept in the audit: the
        old one was active until then for recall as_of; default when this runs)."""
        with write_session(self.engine) as s:
            old = self._get(s, user_id, old_id)
            if old is None:
                raise KeyError(f"memory {old_id} not found for user {user_id!r}")
            new.supersedes = old.id
            self._insert(s, new, vector, actor, reason)
            old.status = MemoryStatus.superseded.value
            old.superseded_by = new.id
            self.backend.unindex(s.connection(), [old_id])
            s.add(
                AuditEvent(
                    user_id=user_id,
                    memory_id=old_id,
                    operation="supersede",
                    actor=actor,
                    reason=reason,
                    detail={"superseded_by": new.id} | _said(said_at),
                )
            )
            s.commit()
            s.refresh(new)
        return new

    def forget(
        self, user_id: str, memory_id: int, *, actor: str, reason: str, said_at: datetime | None = None
    ) -> bool:
        """Soft-forget: never recalled again, removed from both indexes, reason audited (with
        `said_at`, when the words that asked were said, if not now)."""
        return self._withdraw(user_id, memory_id, MemoryStatus.forgotten, None, actor, reason, said_at)

    def retire(
        self,
        user_id: str,
        memory_id: int,
        by: int,
        *,
        actor: str,
        reason: str,
        said_at: datetime | None = None,
    ) -> bool:
        """Mark an active memory superseded by an existing one `by` (kept for audit, never
        recalled): the losing side of a contradiction, or a memory folded into a merge."""
        return self._withdraw(user_id, memory_id, MemoryStatus.superseded, by, actor, reason, said_at)

    def _withdraw(
        self,
        user_id: str,
        memory_id: int,
        status: MemoryStatus,
        by: int | None,
        actor: str,
        reason: str,
        said_at: datetime | None = None,
    ) -> bool:
        with write_session(self.engine) as s:
            entry = self._get(s, user_id, memory_id)
            if entry is None or entry.status != MemoryStatus.active.value:
                return False
            entry.status, entry.superseded_by = status.value, by
            self.backend.unindex(s.connection(), [memory_id])
            operation = "forget" if status is MemoryStatus.forgotten else "supersede"
            detail = ({} if by is None else {"superseded_by": by}) | _said(said_at)
            s.add(
                AuditEvent(
                    user_id=user_id,
                    memory_id=memory_id,
                    operation=operation,
                    actor=actor,
                    reason=reason,
                    detail=detail,
                )
            )
            s.commit()
        return True

    def adjust(
        self, user_id: str, ids: list[int], delta: float, *, operation: str, reason: str
    ) -> dict[int, float]:
        """Change the confidence of active memories by `delta` (clamped to 0..1), in one
        transaction with one audit row each; returns the new value of each memory changed."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with write_transaction(self.engine) as conn:
            before: dict[int, float] = dict(
                execute(
                    conn,
                    "SELECT id, confidence FROM memory "
                    f"WHERE user_id = ? AND status = 'active' AND id IN ({marks})",
                    (user_id, *ids),
                ).fetchall()
            )
            if not before:
                return {}
            after = {mid: min(1.0, max(0.0, value + delta)) for mid, value in before.items()}
            execute(
                conn,
                "UPDATE memory SET confidence = ? WHERE user_id = ? AND id = ?",
                [(value, user_id, mid) for mid, value in after.items()],
            )
            now = utcnow()
            conn.execute(
                AUDIT_TABLE.insert(),
                [
                    {
                        "at": now,
                        "user_id": user_id,
                        "memory_id": mid,
                        "operation": operation,
                        "actor": "runtime",
                        "reason": reason,
                        "detail": {"from": before[mid], "to": value},
                    }
                    for mid, value in after.items()
                ],
            )
        return after

    # --- the audit (framework.memory.longterm.audit) --------------------------------------
    def audit(
        self,
        user_id: str,
        operation: str,
        reason: str,
        detail: dict[str, Any] | None = None,
        memory_id: int | None = None,
        actor: str = "runtime",
    ) -> None:
        """Write one audit event (AuditTrail.audit)."""
        self.trail.audit(user_id, operation, reason, detail, memory_id, actor)

    def touch(
        self,
        user_id: str,
        ids: Iterable[int],
        query: str,
        scores: dict[int, float],
        counts: dict[str, int] | None = None,
    ) -> None:
        """Record one recall, written in a batch (AuditTrail.touch)."""
        self.trail.touch(user_id, ids, query, scores, counts)

    def flush_reads(self) -> None:
        """Write the recalls not written yet (AuditTrail.flush_reads)."""
        self.trail.flush_reads()

    def history(self, user_id: str, memory_id: int | None = None) -> list[AuditEvent]:
        """The user's audit trail, oldest first (AuditTrail.history)."""
        return self.trail.history(user_id, memory_id)

    # --- reads ---------------------------------------------------------------------------
    def get(self, user_id: str, memory_id: int) -> MemoryEntry | None:
        with Session(self.engine) as s:
            return self._get(s, user_id, memory_id)

    def get_many(self, user_id: str, ids: list[int]) -> list[MemoryEntry]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return self._select(f"user_id = ? AND id IN ({marks})", (user_id, *ids))

    def _select(self, where: str, params: tuple[Any, ...]) -> list[MemoryEntry]:
        """Whole entries by plain SQL: on the hot path the ORM's statement building costs more
        than the query itself."""
        with self.engine.connect() as conn:
            rows = execute(
                conn, f"SELECT {COLUMN_LIST} FROM memory WHERE {where} ORDER BY id", params
            ).fetchall()
        return [entry_from_row(row) for row in rows]

    def _get(self, s: Session, user_id: str, memory_id: int) -> MemoryEntry | None:
        return s.scalars(
            select(MemoryEntry).where(MemoryEntry.user_id == user_id, MemoryEntry.id == memory_id)  # type: ignore[arg-type]
        ).first()

    def active(
        self, user_id: str, types: Iterable[str] | None = None, tags: Iterable[str] | None = None
    ) -> list[MemoryEntry]:
        """Structured retrieval: every active, unexpired memory of these types (any type when None)
        carrying any of these tags (when given). Never truncated."""
        where, params = "user_id = ? AND status = 'active'", [user_id]
        if types is not None:
            kinds = list(types)
            where += f" AND memory_type IN ({','.join('?' * len(kinds))})"
            params += kinds
        wanted = set(tags) if tags is not None else None
        now = utcnow()
        return [
            e
            for e in self._select(where, tuple(params))
            if (e.valid_until is None or e.valid_until > now) and (wanted is None or wanted & set(e.tags))
        ]

    def all_entries(self, user_id: str) -> list[MemoryEntry]:
        self.flush_reads()
        return self._select("user_id = ?", (user_id,))

    def nearest(self, user_id: str, vector: list[float], k: int = 5) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) of the user's k nearest active memories (exact for most
        users; approximate for a SQLite user with thousands of memories: see backends/sqlite.py)."""
        with self.engine.connect() as conn:
            return [(rid, 1.0 - dist) for rid, dist in self.backend.nearest(conn, user_id, vector, k)]

    def query_vector(self, user_id: str, text: str, embed: Embed) -> list[float] | None:
        """The vector recall searches with for `text`: its embedding, focused on what sets it
        apart from the user's other memories (framework.memory.longterm.focus); None if blank."""
        return self.focus.vector(user_id, text, embed, self.retrieval.weights)

    def query_texts(self, user_id: str, text: str) -> list[str]:
        """The texts `query_vector` embeds for `text`: the question, and the question without the
        user's common words when that differs (to show it, or to embed many queries in a batch)."""
        return self.focus.texts(user_id, text, self.retrieval.weights)

    def vector_of(self, texts: list[str], embed: Embed) -> list[float] | None:
        """The query vector of what `query_texts` gave."""
        return embedded(texts, embed, self.retrieval.weights)

    def search(
        self, query: SearchQuery, vector: list[float] | None, past: dict[int, list[float]] | None = None
    ) -> SearchResult:
        """The user's memories that best match `query`, ranked and explained (see search.py);
        `past`: with `query.as_of`, the vectors of the memories active then and not now."""
        return self.retrieval.search(query, vector, past)

    def active_at(
        self, user_id: str, as_of: datetime, types: Iterable[str] | None = None, *, ended_only: bool = False
    ) -> list[MemoryEntry]:
        """Structured retrieval as of a past time: every memory (of these types) that was active at
        `as_of`; with `ended_only`, those of them no longer active (see timeline.py)."""
        return active_at(self.engine, user_id, as_of, types, ended_only=ended_only)

    # --- hard deletion (framework.memory.longterm.erasure) --------------------------------
    def delete(self, user_id: str, memory_id: int, *, actor: str, reason: str) -> bool:
        """Hard-delete one memory, leaving none of its words in the store (Erasure.delete)."""
        return self.erasure.delete(user_id, memory_id, actor=actor, reason=reason)

    def delete_user(
        self, user_id: str, *, actor: str = "user", reason: str = "erasure requested"
    ) -> dict[str, int]:
        """Right to erasure: all of the user's data (Erasure.delete_user), and what this process
        counted of their words (framework.memory.longterm.focus)."""
        self.focus.forget(user_id)
        return self.erasure.delete_user(user_id, actor=actor, reason=reason)


def _said(said_at: datetime | None) -> dict[str, str]:
    """An audit detail's record of when the words that ended a memory were said (event time),
    read by recall as_of (framework.memory.longterm.timeline); none when that is now."""
    return {} if said_at is None else {"said_at": as_utc(said_at).isoformat()}  # type: ignore[union-attr]
