"""L3 long-term memory: scoped storage and hybrid recall that explains itself.

Every method takes a user_id and every query filters on it: there is no unscoped read path.
Recall fuses vector (sqlite-vec, partitioned by user) and lexical (FTS5, Porter stemming)
candidates with reciprocal-rank fusion, applies hard filters, then a weighted composite rank.
Constraints and preferences are also returned by structured retrieval, complete, never top-k.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlmodel import Session

from framework.memory.records import AuditEvent, MemoryEntry, MemoryStatus, utcnow

_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "a an and are as at be but by do does did for from has have how i if in into is it its me my "
    "of on or our so than that the their them then there these they this to was we were what when "
    "where which who why will with you your".split()
)
RRF_K = 60


@dataclass(frozen=True)
class RankWeights:
    relevance: float = 0.6
    confidence: float = 0.2
    recency: float = 0.1
    frequency: float = 0.05
    task: float = 0.05
    recency_half_life_days: float = 30.0


@dataclass
class RecallQuery:
    user_id: str
    text: str
    limit: int = 8
    min_confidence: float = 0.0
    types: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    task_tags: tuple[str, ...] = ()
    candidates: int = 50


@dataclass
class Recalled:
    """One memory returned by recall, with every signal that placed it."""

    memory: MemoryEntry
    score: float
    signals: dict[str, float]
    via: str  # "vector", "lexical", "vector+lexical" or "structured"


@dataclass
class RecallResult:
    items: list[Recalled]
    dropped: dict[int, str] = field(default_factory=dict)  # memory id -> filter that dropped it
    candidates: dict[str, int] = field(default_factory=dict)  # signal -> candidate count
    warnings: list[str] = field(default_factory=list)


def pack(vector: list[float]) -> bytes:
    return struct.pack(f"{len(vector)}f", *vector)


class LongTermMemory:
    def __init__(self, engine: Engine, weights: RankWeights | None = None) -> None:
        self.engine = engine
        self.weights = weights or RankWeights()

    # --- writes (each call is one transaction, audited) ---------------------------------
    def add(
        self, entry: MemoryEntry, vector: list[float], *, actor: str = "runtime", reason: str = ""
    ) -> MemoryEntry:
        with Session(self.engine) as s:
            self._insert(s, entry, vector, actor, reason)
            s.commit()
            s.refresh(entry)
        return entry

    def _insert(
        self, s: Session, entry: MemoryEntry, vector: list[float], actor: str, reason: str
    ) -> None:
        s.add(entry)
        s.flush()
        conn = s.connection()
        conn.exec_driver_sql(
            "INSERT INTO memory_vec(rowid, user_id, embedding) VALUES (?, ?, ?)",
            (entry.id, entry.user_id, pack(vector)),
        )
        conn.exec_driver_sql(
            "INSERT INTO memory_fts(rowid, content, user_id) VALUES (?, ?, ?)",
            (entry.id, entry.content, entry.user_id),
        )
        s.add(AuditEvent(user_id=entry.user_id, memory_id=entry.id, operation="write",
                         actor=actor, reason=reason,
                         detail={"type": entry.memory_type, "confidence": entry.confidence,
                                 "source": entry.source, "supersedes": entry.supersedes}))

    def supersede(
        self, user_id: str, old_id: int, new: MemoryEntry, vector: list[float], *, actor: str, reason: str
    ) -> MemoryEntry:
        """Write `new` in place of `old_id`: the old one is kept for audit, never recalled again."""
        with Session(self.engine) as s:
            old = self._get(s, user_id, old_id)
            if old is None:
                raise KeyError(f"memory {old_id} not found for user {user_id!r}")
            new.supersedes = old.id
            self._insert(s, new, vector, actor, reason)
            old.status = MemoryStatus.superseded.value
            old.superseded_by = new.id
            self._unindex(s.connection(), [old_id])
            s.add(AuditEvent(user_id=user_id, memory_id=old_id, operation="supersede", actor=actor,
                             reason=reason, detail={"superseded_by": new.id}))
            s.commit()
            s.refresh(new)
        return new

    def forget(self, user_id: str, memory_id: int, *, actor: str, reason: str) -> bool:
        """Soft-forget: never recalled again, removed from both indexes, reason audited."""
        with Session(self.engine) as s:
            entry = self._get(s, user_id, memory_id)
            if entry is None or entry.status != MemoryStatus.active.value:
                return False
            entry.status = MemoryStatus.forgotten.value
            self._unindex(s.connection(), [memory_id])
            s.add(AuditEvent(user_id=user_id, memory_id=memory_id, operation="forget",
                             actor=actor, reason=reason))
            s.commit()
        return True

    def adjust(
        self, user_id: str, memory_id: int, delta: float, *, operation: str, reason: str
    ) -> float | None:
        """Change a memory's confidence by `delta` (clamped to 0..1); returns the new value."""
        with Session(self.engine) as s:
            entry = self._get(s, user_id, memory_id)
            if entry is None or entry.status != MemoryStatus.active.value:
                return None
            before = entry.confidence
            entry.confidence = min(1.0, max(0.0, before + delta))
            s.add(AuditEvent(user_id=user_id, memory_id=memory_id, operation=operation,
                             reason=reason, detail={"from": before, "to": entry.confidence}))
            s.commit()
            return entry.confidence

    def audit(self, user_id: str, operation: str, reason: str, detail: dict[str, Any] | None = None,
              memory_id: int | None = None, actor: str = "runtime") -> None:
        with Session(self.engine) as s:
            s.add(AuditEvent(user_id=user_id, memory_id=memory_id, operation=operation,
                             actor=actor, reason=reason, detail=detail or {}))
            s.commit()

    def touch(self, user_id: str, ids: Iterable[int], query: str, scores: dict[int, float]) -> None:
        """Record one recall: access stats for all ids in one statement, one audit 'read' row."""
        ids = list(ids)
        with self.engine.begin() as conn:
            if ids:
                marks = ",".join("?" * len(ids))
                conn.exec_driver_sql(
                    f"UPDATE memory SET access_count = access_count + 1, last_accessed = ? "
                    f"WHERE user_id = ? AND id IN ({marks})",
                    (utcnow(), user_id, *ids),
                )
            conn.execute(AuditEvent.__table__.insert().values(  # type: ignore[attr-defined]
                at=utcnow(), user_id=user_id, operation="read", actor="runtime",
                reason="recall", detail={"query": query[:200], "ids": ids,
                                         "scores": {str(k): round(v, 4) for k, v in scores.items()}}))

    # --- reads ---------------------------------------------------------------------------
    def get(self, user_id: str, memory_id: int) -> MemoryEntry | None:
        with Session(self.engine) as s:
            return self._get(s, user_id, memory_id)

    def _get(self, s: Session, user_id: str, memory_id: int) -> MemoryEntry | None:
        return s.scalars(
            select(MemoryEntry).where(MemoryEntry.user_id == user_id, MemoryEntry.id == memory_id)  # type: ignore[arg-type]
        ).first()

    def active(self, user_id: str, types: Iterable[str] | None = None) -> list[MemoryEntry]:
        """Structured retrieval: every active, unexpired memory of these types. Never truncated."""
        stmt = select(MemoryEntry).where(
            MemoryEntry.user_id == user_id,  # type: ignore[arg-type]
            MemoryEntry.status == MemoryStatus.active.value,  # type: ignore[arg-type]
        )
        if types is not None:
            stmt = stmt.where(MemoryEntry.memory_type.in_(list(types)))  # type: ignore[attr-defined]
        now = utcnow()
        with Session(self.engine) as s:
            rows = list(s.scalars(stmt.order_by(MemoryEntry.id)))  # type: ignore[arg-type]
        return [r for r in rows if r.valid_until is None or r.valid_until > now]

    def history(self, user_id: str) -> list[AuditEvent]:
        with Session(self.engine) as s:
            return list(s.scalars(select(AuditEvent).where(AuditEvent.user_id == user_id)  # type: ignore[arg-type]
                                  .order_by(AuditEvent.id)))  # type: ignore[arg-type]

    def all_entries(self, user_id: str) -> list[MemoryEntry]:
        with Session(self.engine) as s:
            return list(s.scalars(select(MemoryEntry).where(MemoryEntry.user_id == user_id)  # type: ignore[arg-type]
                                  .order_by(MemoryEntry.id)))  # type: ignore[arg-type]

    def nearest(self, user_id: str, vector: list[float], k: int = 5) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) of the user's k nearest active memories."""
        with self.engine.connect() as conn:
            return [(rid, 1.0 - dist) for rid, dist in self._vector(conn, user_id, vector, k)]

    def recall(self, query: RecallQuery, vector: list[float] | None) -> RecallResult:
        result = RecallResult(items=[])
        with self.engine.connect() as conn:
            vec_hits = self._vector(conn, query.user_id, vector, query.candidates) if vector else []
            if vector is None:
                result.warnings.append("vector signal skipped: no query embedding")
            lex_hits = self._lexical(conn, query.user_id, query.text, query.candidates)
            result.candidates = {"vector": len(vec_hits), "lexical": len(lex_hits)}
            fused: dict[int, float] = {}
            via: dict[int, set[str]] = {}
            for name, hits in (("vector", vec_hits), ("lexical", lex_hits)):
                for rank, (mid, _score) in enumerate(hits):
                    fused[mid] = fused.get(mid, 0.0) + 1.0 / (RRF_K + rank + 1)
                    via.setdefault(mid, set()).add(name)
            if not fused:
                return result
            rows = self._rows(conn, query.user_id, list(fused))
        best = max(fused.values())
        now = utcnow()
        w = self.weights
        max_access = max((r.access_count for r in rows), default=0)
        scored: list[Recalled] = []
        for entry in rows:
            assert entry.id is not None
            reason = self._filter(entry, query, now)
            if reason:
                result.dropped[entry.id] = reason
                continue
            age_days = max(0.0, (now - entry.created_at).total_seconds() / 86_400)
            signals = {
                "relevance": fused[entry.id] / best,
                "confidence": entry.confidence,
                "recency": 0.5 ** (age_days / w.recency_half_life_days),
                "frequency": math.log1p(entry.access_count) / math.log1p(max_access) if max_access else 0.0,
                "task": 1.0 if set(query.task_tags) & set(entry.tags or []) else 0.0,
            }
            score = (w.relevance * signals["relevance"] + w.confidence * signals["confidence"]
                     + w.recency * signals["recency"] + w.frequency * signals["frequency"]
                     + w.task * signals["task"])
            scored.append(Recalled(entry, score, signals, "+".join(sorted(via[entry.id]))))
        scored.sort(key=lambda r: r.score, reverse=True)
        for extra in scored[query.limit:]:
            assert extra.memory.id is not None
            result.dropped[extra.memory.id] = f"below top {query.limit}"
        result.items = scored[: query.limit]
        return result

    # --- internals -------------------------------------------------------------------------
    @staticmethod
    def _filter(entry: MemoryEntry, query: RecallQuery, now: datetime) -> str | None:
        if entry.status != MemoryStatus.active.value:
            return f"status {entry.status}"
        if entry.valid_until is not None and entry.valid_until <= now:
            return "expired"
        if entry.confidence < query.min_confidence:
            return f"confidence {entry.confidence:.2f} < {query.min_confidence:.2f}"
        if query.types is not None and entry.memory_type not in query.types:
            return f"type {entry.memory_type}"
        if query.tags is not None and not set(query.tags) & set(entry.tags or []):
            return "tags"
        return None

    @staticmethod
    def _vector(conn: Connection, user_id: str, vector: list[float] | None, k: int) -> list[tuple[int, float]]:
        if vector is None:
            return []
        rows = conn.exec_driver_sql(
            "SELECT rowid, distance FROM memory_vec WHERE embedding MATCH ? AND k = ? AND user_id = ?",
            (pack(vector), k, user_id),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    @staticmethod
    def _lexical(conn: Connection, user_id: str, text: str, k: int) -> list[tuple[int, float]]:
        terms = [t for t in dict.fromkeys(_WORD.findall(text.lower())) if t not in _STOP]
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        rows = conn.exec_driver_sql(
            "SELECT rowid, bm25(memory_fts) AS score FROM memory_fts "
            "WHERE memory_fts MATCH ? AND user_id = ? ORDER BY score LIMIT ?",
            (match, user_id, k),
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    @staticmethod
    def _rows(conn: Connection, user_id: str, ids: list[int]) -> list[MemoryEntry]:
        with Session(bind=conn) as s:
            return list(s.scalars(select(MemoryEntry).where(
                MemoryEntry.user_id == user_id, MemoryEntry.id.in_(ids))))  # type: ignore[arg-type,union-attr]

    @staticmethod
    def _unindex(conn: Connection, ids: list[int]) -> None:
        for mid in ids:
            conn.exec_driver_sql("DELETE FROM memory_vec WHERE rowid = ?", (mid,))
            conn.exec_driver_sql("DELETE FROM memory_fts WHERE rowid = ?", (mid,))

    def delete_user(self, user_id: str) -> int:
        """Right to be forgotten: every memory, vector, lexical row and audit row of the user."""
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.exec_driver_sql(
                "SELECT id FROM memory WHERE user_id = ?", (user_id,)).fetchall()]
            self._unindex(conn, ids)
            conn.exec_driver_sql("DELETE FROM memory WHERE user_id = ?", (user_id,))
            conn.exec_driver_sql("DELETE FROM audit WHERE user_id = ?", (user_id,))
        return len(ids)


def expiry(days: float) -> datetime:
    return utcnow() + timedelta(days=days)
