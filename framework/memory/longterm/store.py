"""L3 long-term memory: scoped storage, its lifecycle writes (each audited), structured
retrieval and hybrid recall (framework.memory.longterm.search).

Every method takes a user_id and every query filters on it: there is no unscoped read path.
Structured retrieval (`active`, `get`, `all_entries`) is complete, never top-k. The database is
SQLite or PostgreSQL; what differs between them is the backend's (framework.memory.longterm.backends).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, or_, select
from sqlalchemy.orm import configure_mappers
from sqlmodel import Session, SQLModel

from framework.errors import StoreBusy
from framework.log import authored_reason, logger, user_ref
from framework.memory.longterm.backends import (
    LARGE_IMPORT,
    backend_for,
    execute,
    write_session,
    write_transaction,
)
from framework.memory.longterm.records import (
    COLUMN_LIST,
    COLUMNS,
    AuditEvent,
    MemoryEntry,
    MemoryStatus,
    entry_from_row,
    stamp,
    utcnow,
)
from framework.memory.longterm.search import HybridSearch, RankWeights, SearchQuery, SearchResult
from framework.sensitive import redact

READ_BATCH = 16
READ_BACKLOG = 64 * READ_BATCH  # recalls kept in memory while the store is busy, at most
_AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]


class LongTermMemory:
    def __init__(self, engine: Engine, weights: RankWeights | None = None) -> None:
        self.engine = engine
        self.backend = backend_for(engine)
        self._reads: list[tuple[str, str, dict[str, Any]]] = []  # recalls not yet written
        self.retrieval = HybridSearch(engine, weights or RankWeights(), self.get_many)
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
        self, user_id: str, old_id: int, new: MemoryEntry, vector: list[float], *, actor: str, reason: str
    ) -> MemoryEntry:
        """Write `new` in place of `old_id`: the old one is kept for audit, never recalled again."""
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
                    detail={"superseded_by": new.id},
                )
            )
            s.commit()
            s.refresh(new)
        return new

    def forget(self, user_id: str, memory_id: int, *, actor: str, reason: str) -> bool:
        """Soft-forget: never recalled again, removed from both indexes, reason audited."""
        return self._withdraw(user_id, memory_id, MemoryStatus.forgotten, None, actor, reason)

    def retire(self, user_id: str, memory_id: int, by: int, *, actor: str, reason: str) -> bool:
        """Mark an active memory superseded by an existing one `by` (kept for audit, never
        recalled): the losing side of a contradiction, or a memory folded into a merge."""
        return self._withdraw(user_id, memory_id, MemoryStatus.superseded, by, actor, reason)

    def _withdraw(
        self, user_id: str, memory_id: int, status: MemoryStatus, by: int | None, actor: str, reason: str
    ) -> bool:
        with write_session(self.engine) as s:
            entry = self._get(s, user_id, memory_id)
            if entry is None or entry.status != MemoryStatus.active.value:
                return False
            entry.status, entry.superseded_by = status.value, by
            self.backend.unindex(s.connection(), [memory_id])
            operation = "forget" if status is MemoryStatus.forgotten else "supersede"
            detail = {} if by is None else {"superseded_by": by}
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
                _AUDIT.insert(),
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

    def audit(
        self,
        user_id: str,
        operation: str,
        reason: str,
        detail: dict[str, Any] | None = None,
        memory_id: int | None = None,
        actor: str = "runtime",
    ) -> None:
        with write_session(self.engine) as s:
            s.add(
                AuditEvent(
                    user_id=user_id,
                    memory_id=memory_id,
                    operation=operation,
                    actor=actor,
                    reason=redact(reason),
                    detail=detail or {},
                )
            )
            s.commit()

    def touch(
        self,
        user_id: str,
        ids: Iterable[int],
        query: str,
        scores: dict[int, float],
        counts: dict[str, int] | None = None,
    ) -> None:
        """Record one recall: access stats for its ids and an audit 'read' row (ids, scores, the
        query's length and `counts`: candidates per signal, dropped by the filters; never the
        query's words: they are the user's, and may hold a secret no one could see yet). Recalls
        are written in batches of READ_BATCH, not one write per query; reads of stats and audit
        (history, all_entries) and close() flush what is pending first."""
        detail = {
            "query_chars": len(query),
            "ids": list(ids),
            "scores": {str(k): round(v, 4) for k, v in scores.items()},
            "counts": counts or {},
        }
        self._reads.append((stamp(utcnow()), user_id, detail))
        if len(self._reads) % READ_BATCH == 0:  # a batch (or one more since a flush found the store busy)
            with contextlib.suppress(StoreBusy):  # kept for the next batch, with a warning: a recall
                self.flush_reads()  # is not failed for its audit row

    def flush_reads(self) -> None:
        """Write the recalls not written yet, in one transaction. A crash loses them (at most
        READ_BATCH - 1). When the store stays busy past the write deadline they are kept for the
        next flush, with a warning in the log, and StoreBusy is raised; past READ_BACKLOG kept,
        the oldest are dropped, with a warning naming how many."""
        reads, self._reads = self._reads, []
        if not reads:
            return
        try:
            self._write_reads(reads)
        except StoreBusy:
            kept = reads + self._reads
            self._reads = kept[-READ_BACKLOG:]
            if len(kept) > READ_BACKLOG:
                logger.warning("recall audit: store busy, %d recalls dropped", len(kept) - READ_BACKLOG)
            logger.warning("recall audit: store busy, %d recalls kept for the next batch", len(self._reads))
            raise

    def _write_reads(self, reads: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Recalls' access stats and audit rows."""
        with write_transaction(self.engine) as conn:
            accessed = [(at, user, mid) for at, user, d in reads for mid in d["ids"]]
            if accessed:
                execute(
                    conn,
                    "UPDATE memory SET access_count = access_count + 1, last_accessed = ? "
                    "WHERE user_id = ? AND id = ?",
                    accessed,
                )
            execute(
                conn,
                "INSERT INTO audit (at, user_id, operation, actor, reason, detail) "
                "VALUES (?, ?, 'read', 'runtime', 'recall', ?)",
                [(at, user, json.dumps(d)) for at, user, d in reads],
            )

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

    def history(self, user_id: str, memory_id: int | None = None) -> list[AuditEvent]:
        """The user's audit trail, oldest first (one memory's, given its id)."""
        self.flush_reads()
        query = select(AuditEvent).where(AuditEvent.user_id == user_id)  # type: ignore[arg-type]
        if memory_id is not None:
            query = query.where(AuditEvent.memory_id == memory_id)  # type: ignore[arg-type]
        with Session(self.engine) as s:
            return list(s.scalars(query.order_by(AuditEvent.id)))  # type: ignore[arg-type]

    def all_entries(self, user_id: str) -> list[MemoryEntry]:
        self.flush_reads()
        return self._select("user_id = ?", (user_id,))

    def nearest(self, user_id: str, vector: list[float], k: int = 5) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) of the user's k nearest active memories (exact for most
        users; approximate for a SQLite user with thousands of memories: see backends/sqlite.py)."""
        with self.engine.connect() as conn:
            return [(rid, 1.0 - dist) for rid, dist in self.backend.nearest(conn, user_id, vector, k)]

    def search(self, query: SearchQuery, vector: list[float] | None) -> SearchResult:
        """The user's memories that best match `query`, ranked and explained (see recall.py)."""
        return self.retrieval.search(query, vector)

    def delete(self, user_id: str, memory_id: int, *, actor: str, reason: str) -> bool:
        """Hard-delete one memory, whatever its status, leaving none of its words in the store: its
        row, both index rows (securely: Backend.erase), the pending writes that would act on it,
        and the text of its audit rows and of the recalls that returned it (`_erase_audit_text`).
        The audit keeps that it was deleted, by whom and why (the requester's reason)."""
        self.flush_reads()
        with write_transaction(self.engine) as conn:
            found = execute(
                conn, "SELECT id FROM memory WHERE user_id = ? AND id = ?", (user_id, memory_id)
            ).first()
            if found is None:
                return False
            thorough = self.backend.erase(conn, [memory_id])
            execute(conn, "DELETE FROM memory WHERE user_id = ? AND id = ?", (user_id, memory_id))
            execute(conn, "DELETE FROM pending_write WHERE user_id = ? AND target = ?", (user_id, memory_id))
            _erase_audit_text(conn, user_id, memory_id)
            execute(
                conn,
                "INSERT INTO audit (at, user_id, memory_id, operation, actor, reason, detail) "
                "VALUES (?, ?, ?, 'delete', ?, ?, '{}')",
                (stamp(utcnow()), user_id, memory_id, actor, redact(reason)),
            )
        self.backend.compact(self.engine, thorough)
        return True

    def delete_user(
        self, user_id: str, *, actor: str = "user", reason: str = "erasure requested"
    ) -> dict[str, int]:
        """Right to erasure: the user's memories (any status), their vector and lexical index rows,
        and the rows of every other table keyed by user (pending writes, settings, unfinished memory
        work: `_user_tables`) are deleted. The audit keeps each event (time, actor,
        operation, memory id, the framework's own reason) under `erased_user(user_id)` instead of
        the id, with every text a user or a model wrote erased; a 'delete_user' event records the
        erasure. On SQLite the freed bytes are zeroed and the WAL emptied into the file
        (`files_clean` is 0 when another process's open read kept it)."""
        self._reads = [read for read in self._reads if read[1] != user_id]  # unwritten: nothing to erase
        self.flush_reads()
        with write_transaction(self.engine) as conn:
            ids = [r[0] for r in execute(conn, "SELECT id FROM memory WHERE user_id = ?", (user_id,))]
            thorough = self.backend.erase(conn, ids)
            execute(conn, "DELETE FROM memory WHERE user_id = ?", (user_id,))
            counts = {"memories": len(ids)}
            for table in _user_tables():
                deleted = execute(conn, f"DELETE FROM {table} WHERE user_id = ?", (user_id,)).rowcount
                counts[_COUNTED_AS.get(table, table)] = deleted
            counts["audit"] = _erase_audit_text(conn, user_id, None, erased_user(user_id))
            conn.execute(
                _AUDIT.insert(),
                {
                    "at": utcnow(),
                    "user_id": erased_user(user_id),
                    "operation": "delete_user",
                    "actor": actor,
                    "reason": redact(reason),
                    "detail": dict(counts),
                },
            )
        counts["files_clean"] = int(self.backend.compact(self.engine, thorough))
        return counts


_APART = {"memory", "memory_vec", "memory_fts", "audit"}  # deleted through Backend.erase; scrubbed
_COUNTED_AS = {"pending_write": "pending", "user_settings": "settings"}


def _user_tables() -> list[str]:
    """The store's tables keyed by user (a user_id column) whose rows an erasure deletes outright:
    all but the memory, its indexes and the audit. Found from the models (records.py), so that a
    table added later is erased too."""
    tables = SQLModel.metadata.tables.values()
    return sorted(t.name for t in tables if "user_id" in t.c and t.name not in _APART)


# Detail fields whose strings are the framework's vocabulary (memory types, sources, pending
# actions, tool names and verdicts, policy names): kept when a user's text is erased. Every other
# field holding a string (a recall's query, a rejected candidate's content, ...) is erased.
_VOCABULARY = {"type", "source", "action", "tool", "verdict", "policies", "erased"}


def erased_user(user_id: str) -> str:
    """What an erased user's audit rows carry instead of the id: a hash of it (the log's user_ref),
    so that the erasure stays provable for a known id while no row names the user."""
    return f"erased:{user_ref(user_id)}"


def scrub_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """An audit row's detail without user text: numbers, flags and ids stay, as do the fields of
    _VOCABULARY; the names of the fields erased are listed under "erased"."""
    kept = {k: v for k, v in detail.items() if k in _VOCABULARY or not _holds_text(v)}
    gone = set(detail) - set(kept)
    if gone:
        kept["erased"] = sorted(gone | set(kept.get("erased", [])))
    return kept


def _holds_text(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, dict):
        return any(_holds_text(v) for v in value.values())
    return isinstance(value, list) and any(_holds_text(v) for v in value)


def _erase_audit_text(conn: Connection, user_id: str, memory_id: int | None, tombstone: str = "") -> int:
    """Erase the text in a user's audit rows (`memory_id`: only that memory's rows and the recalls
    that returned it): reasons the framework did not write (log.authored_reason) and detail fields
    holding text (scrub_detail); with `tombstone`, the user id too. Returns the rows changed."""
    audit = _AUDIT
    query = select(audit.c.id, audit.c.memory_id, audit.c.reason, audit.c.detail).where(
        audit.c.user_id == user_id
    )
    if memory_id is not None:
        query = query.where(or_(audit.c.memory_id == memory_id, audit.c.operation == "read"))
    changes = []
    for row in conn.execute(query):
        detail = row.detail or {}
        if memory_id is not None and row.memory_id != memory_id and memory_id not in detail.get("ids", []):
            continue
        reason = authored_reason(row.reason or "") if row.reason else ""
        scrubbed = scrub_detail(detail)
        if tombstone or reason != row.reason or scrubbed != detail:
            changes.append({"row": row.id, "new_reason": reason, "new_detail": scrubbed})
    if changes:
        values: dict[str, Any] = {"reason": bindparam("new_reason"), "detail": bindparam("new_detail")}
        if tombstone:
            values["user_id"] = tombstone
        conn.execute(audit.update().where(audit.c.id == bindparam("row")).values(**values), changes)
    return len(changes)


def expiry(days: float) -> datetime:
    return utcnow() + timedelta(days=days)
