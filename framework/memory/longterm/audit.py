"""The audit of L3 long-term memory: events written one by one (`audit`), recalls written in batches
(`touch`, `flush_reads`) and the user's trail read back (`history`).

LongTermMemory keeps one AuditTrail and hands its calls on; the store's own writes add their audit
rows in their own transactions (store.py), erasure scrubs them (erasure.py).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session

from framework.errors import StoreBusy
from framework.log import logger
from framework.memory.longterm.backends import execute, write_session, write_transaction
from framework.memory.longterm.records import AuditEvent, stamp, utcnow
from framework.sensitive import redact

READ_BATCH = 16
READ_BACKLOG = 64 * READ_BATCH  # recalls kept in memory while the store is busy, at most
AUDIT_TABLE = AuditEvent.__table__  # type: ignore[attr-defined]

Read = tuple[str, str, dict[str, Any]]  # a recall not yet written: (time, user id, detail)


class AuditTrail:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reads: list[Read] = []  # recalls not yet written

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
        self.reads.append((stamp(utcnow()), user_id, detail))
        if len(self.reads) % READ_BATCH == 0:  # a batch (or one more since a flush found the store busy)
            with contextlib.suppress(StoreBusy):  # kept for the next batch, with a warning: a recall
                self.flush_reads()  # is not failed for its audit row

    def flush_reads(self) -> None:
        """Write the recalls not written yet, in one transaction. A crash loses them (at most
        READ_BATCH - 1). When the store stays busy past the write deadline they are kept for the
        next flush, with a warning in the log, and StoreBusy is raised; past READ_BACKLOG kept,
        the oldest are dropped, with a warning naming how many."""
        reads, self.reads = self.reads, []
        if not reads:
            return
        try:
            self._write_reads(reads)
        except StoreBusy:
            kept = reads + self.reads
            self.reads = kept[-READ_BACKLOG:]
            if len(kept) > READ_BACKLOG:
                logger.warning("recall audit: store busy, %d recalls dropped", len(kept) - READ_BACKLOG)
            logger.warning("recall audit: store busy, %d recalls kept for the next batch", len(self.reads))
            raise

    def drop_reads(self, user_id: str) -> None:
        """Forget the user's recalls not written yet (an erasure: nothing of them to erase)."""
        self.reads = [read for read in self.reads if read[1] != user_id]

    def _write_reads(self, reads: list[Read]) -> None:
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

    def history(self, user_id: str, memory_id: int | None = None) -> list[AuditEvent]:
        """The user's audit trail, oldest first (one memory's, given its id)."""
        self.flush_reads()
        query = select(AuditEvent).where(AuditEvent.user_id == user_id)  # type: ignore[arg-type]
        if memory_id is not None:
            query = query.where(AuditEvent.memory_id == memory_id)  # type: ignore[arg-type]
        with Session(self.engine) as s:
            return list(s.scalars(query.order_by(AuditEvent.id)))  # type: ignore[arg-type]
