"""L3 long-term memory: scoped storage and hybrid recall that explains itself.

Every method takes a user_id and every query filters on it: there is no unscoped read path.
Recall fuses vector (sqlite-vec, partitioned by user) and lexical (FTS5, Porter stemming)
candidates with reciprocal-rank fusion, applies hard filters, then a weighted composite rank.
Constraints and preferences are also returned by structured retrieval, complete, never top-k.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import configure_mappers
from sqlmodel import Session

from framework.memory.records import AuditEvent, MemoryEntry, MemoryStatus, utcnow
from framework.memory.sensitive import redact

_WORD = re.compile(r"\w+")
_STOP = frozenset(
    """
    a an and are as at be but by do does did for from has have how i if in into is it its me
    my of on or our so than that the their them then there these they this to was we were what
    when where which who why will with you your
    """.split()
)
RRF_K = 60
_AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RankWeights:
    relevance: float = 0.6
    confidence: float = 0.2
    recency: float = 0.1
    frequency: float = 0.05
    task: float = 0.05
    recency_half_life_days: float = 30.0
    # A vector neighbour less similar than this is not a candidate: nearest is not always near.
    min_similarity: float = 0.25


@dataclass
class RecallQuery:
    user_id: str
    text: str
    limit: int = 8
    min_confidence: float = 0.0
    types: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    task_tags: tuple[str, ...] = ()
    candidates: int = 30


@dataclass
class Recalled:
    """One memory returned by recall, with every signal that placed it."""

    memory: MemoryEntry
    score: float
    signals: dict[str, float]
    via: str  # "vector", "lexical" or "lexical+vector"


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
        # model_construct (used on the read path) needs the ORM mappers set up; in a fresh process
        # whose first store access is a read nothing else would have done it yet.
        configure_mappers()

    # --- writes (each call is one transaction, audited) ---------------------------------
    def add(
        self, entry: MemoryEntry, vector: list[float], *, actor: str = "runtime", reason: str = ""
    ) -> MemoryEntry:
        with Session(self.engine) as s:
            self._insert(s, entry, vector, actor, reason)
            s.commit()
            s.refresh(entry)
        return entry

    def _insert(self, s: Session, entry: MemoryEntry, vector: list[float], actor: str, reason: str) -> None:
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
        with Session(self.engine) as s:
            old = self._get(s, user_id, old_id)
            if old is None:
                raise KeyError(f"memory {old_id} not found for user {user_id!r}")
            new.supersedes = old.id
            self._insert(s, new, vector, actor, reason)
            old.status = MemoryStatus.superseded.value
            old.superseded_by = new.id
            self._unindex(s.connection(), [old_id])
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
        with Session(self.engine) as s:
            entry = self._get(s, user_id, memory_id)
            if entry is None or entry.status != MemoryStatus.active.value:
                return False
            entry.status = MemoryStatus.forgotten.value
            self._unindex(s.connection(), [memory_id])
            s.add(
                AuditEvent(
                    user_id=user_id, memory_id=memory_id, operation="forget", actor=actor, reason=reason
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
        with self.engine.begin() as conn:
            before: dict[int, float] = dict(
                conn.exec_driver_sql(
                    "SELECT id, confidence FROM memory "
                    f"WHERE user_id = ? AND status = 'active' AND id IN ({marks})",
                    (user_id, *ids),
                ).fetchall()
            )
            if not before:
                return {}
            after = {mid: min(1.0, max(0.0, value + delta)) for mid, value in before.items()}
            conn.exec_driver_sql(
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
        with Session(self.engine) as s:
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
            conn.execute(
                _AUDIT.insert().values(
                    at=utcnow(),
                    user_id=user_id,
                    operation="read",
                    actor="runtime",
                    reason="recall",
                    detail={
                        "query": redact(query)[:200],
                        "ids": ids,
                        "scores": {str(k): round(v, 4) for k, v in scores.items()},
                    },
                )
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
            rows = conn.exec_driver_sql(
                f"SELECT {_COLUMN_LIST} FROM memory WHERE {where} ORDER BY id", params
            ).fetchall()
        return [_entry(row) for row in rows]

    def _get(self, s: Session, user_id: str, memory_id: int) -> MemoryEntry | None:
        return s.scalars(
            select(MemoryEntry).where(MemoryEntry.user_id == user_id, MemoryEntry.id == memory_id)  # type: ignore[arg-type]
        ).first()

    def active(self, user_id: str, types: Iterable[str] | None = None) -> list[MemoryEntry]:
        """Structured retrieval: every active, unexpired memory of these types. Never truncated."""
        where, params = "user_id = ? AND status = 'active'", [user_id]
        if types is not None:
            kinds = list(types)
            where += f" AND memory_type IN ({','.join('?' * len(kinds))})"
            params += kinds
        now = utcnow()
        return [e for e in self._select(where, tuple(params)) if e.valid_until is None or e.valid_until > now]

    def history(self, user_id: str) -> list[AuditEvent]:
        with Session(self.engine) as s:
            return list(
                s.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.user_id == user_id)  # type: ignore[arg-type]
                    .order_by(AuditEvent.id)  # type: ignore[arg-type]
                )
            )

    def all_entries(self, user_id: str) -> list[MemoryEntry]:
        return self._select("user_id = ?", (user_id,))

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
            floor = 1.0 - self.weights.min_similarity  # cosine distance
            vec_hits = [(mid, d) for mid, d in vec_hits if d <= floor]
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
            # Filter and rank on a few columns; load whole entries only for what is returned.
            marks = ",".join("?" * len(fused))
            rows = conn.exec_driver_sql(
                "SELECT id, status, valid_until, confidence, memory_type, tags, created_at, access_count "
                f"FROM memory WHERE user_id = ? AND id IN ({marks})",
                (query.user_id, *fused),
            ).fetchall()
        best = 2.0 / (RRF_K + 1)  # first in both lists: relevance is absolute, not relative
        now = utcnow()
        w = self.weights
        max_access = max((r[7] for r in rows), default=0)
        scored: list[tuple[float, int, dict[str, float]]] = []
        for mid, status, valid_until, confidence, memory_type, tags_json, created, access in rows:
            tags = set(json.loads(tags_json)) if tags_json else set()
            reason = _drop_reason(query, status, _when(valid_until), confidence, memory_type, tags, now)
            if reason:
                result.dropped[mid] = reason
                continue
            age_days = max(0.0, (now - _when(created)).total_seconds() / 86_400)  # type: ignore[operator]
            signals = {
                "relevance": fused[mid] / best,
                "confidence": confidence,
                "recency": 0.5 ** (age_days / w.recency_half_life_days),
                "frequency": math.log1p(access) / math.log1p(max_access) if max_access else 0.0,
                "task": 1.0 if set(query.task_tags) & tags else 0.0,
            }
            score = (
                w.relevance * signals["relevance"]
                + w.confidence * signals["confidence"]
                + w.recency * signals["recency"]
                + w.frequency * signals["frequency"]
                + w.task * signals["task"]
            )
            scored.append((score, mid, signals))
        scored.sort(key=lambda t: t[0], reverse=True)
        for _score, mid, _signals in scored[query.limit :]:
            result.dropped[mid] = f"below top {query.limit}"
        top = scored[: query.limit]
        entries = {e.id: e for e in self.get_many(query.user_id, [mid for _s, mid, _g in top])}
        result.items = [
            Recalled(entries[mid], score, signals, "+".join(sorted(via[mid])))
            for score, mid, signals in top
            if mid in entries
        ]
        return result

    # --- internals -------------------------------------------------------------------------
    @staticmethod
    def _vector(
        conn: Connection, user_id: str, vector: list[float] | None, k: int
    ) -> list[tuple[int, float]]:
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
    def _unindex(conn: Connection, ids: list[int]) -> None:
        for mid in ids:
            conn.exec_driver_sql("DELETE FROM memory_vec WHERE rowid = ?", (mid,))
            conn.exec_driver_sql("DELETE FROM memory_fts WHERE rowid = ?", (mid,))

    def delete_user(self, user_id: str) -> int:
        """Right to be forgotten: every memory, vector, lexical row and audit row of the user."""
        with self.engine.begin() as conn:
            ids = [
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT id FROM memory WHERE user_id = ?", (user_id,)
                ).fetchall()
            ]
            self._unindex(conn, ids)
            conn.exec_driver_sql("DELETE FROM memory WHERE user_id = ?", (user_id,))
            conn.exec_driver_sql("DELETE FROM audit WHERE user_id = ?", (user_id,))
        return len(ids)


_COLUMNS = [name for name in MemoryEntry.model_fields]
_COLUMN_LIST = ", ".join(_COLUMNS)
_TIMES = ("created_at", "last_accessed", "valid_until")


def _entry(row: Any) -> MemoryEntry:
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in _TIMES:
        values[name] = _when(values[name])
    values["tags"] = json.loads(values["tags"]) if values["tags"] else []
    return MemoryEntry.model_construct(**values)  # trusted columns: skip validation (8x faster)


def _when(value: str | datetime | None) -> datetime | None:
    """A timestamp as SQLite returns it (text, UTC) to an aware datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _drop_reason(
    query: RecallQuery,
    status: str,
    valid_until: datetime | None,
    confidence: float,
    memory_type: str,
    tags: set[str],
    now: datetime,
) -> str | None:
    """The hard filter that drops a candidate, or None if it passes them all."""
    if status != MemoryStatus.active.value:
        return f"status {status}"
    if valid_until is not None and valid_until <= now:
        return "expired"
    if confidence < query.min_confidence:
        return f"confidence {confidence:.2f} < {query.min_confidence:.2f}"
    if query.types is not None and memory_type not in query.types:
        return f"type {memory_type}"
    if query.tags is not None and not set(query.tags) & tags:
        return "tags"
    return None


def expiry(days: float) -> datetime:
    return utcnow() + timedelta(days=days)
