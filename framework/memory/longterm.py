"""L3 long-term memory: scoped storage and hybrid recall that explains itself.

Every method takes a user_id and every query filters on it: there is no unscoped read path.
Recall takes vector (sqlite-vec, partitioned by user) and lexical (FTS5 BM25, Porter stemming)
candidates and fuses their normalised scores; a memory also inherits part of the match of the
memories written next to it in the same session (its context), and gains when it was written in
a period the query names. Hard filters follow, then a weighted composite rank. Constraints and
preferences are also returned by structured retrieval, complete, never top-k.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import configure_mappers
from sqlmodel import Session

from framework.memory.backends import backend_for, execute
from framework.memory.records import AuditEvent, MemoryEntry, MemoryStatus, utcnow
from framework.memory.relevance import decisiveness, normalise, written_in
from framework.memory.relevance import periods as named_periods
from framework.memory.relevance import terms as search_terms
from framework.memory.sensitive import redact

# Context reaches the memories written up to _CONTEXT_REACH places before or after a memory in
# its session, each place further inheriting half as much. The n-th memory before (after) memory c
# is looked for among the _CONTEXT_WINDOW rows before (after) it by id; the unary + keeps SQLite
# on that rowid range.
_CONTEXT_REACH = 2
_CONTEXT_DECAY = 0.5
_CONTEXT_WINDOW = 64
_ADJACENT = (
    "(SELECT m.id FROM memory m WHERE m.id {cmp} c.id AND m.id {bound} {window} "
    "AND {plain}m.user_id = c.user_id AND m.session_id = c.session_id AND {plain}m.status = 'active' "
    "ORDER BY m.id {order} LIMIT 1 OFFSET {offset})"
)


def _neighbours(plain: str) -> str:
    """The select list of the ids next to memory c, nearest first, before and after in turn."""
    return ", ".join(
        _ADJACENT.format(
            cmp=cmp, bound=bound, window=_CONTEXT_WINDOW, order=order, offset=offset, plain=plain
        )
        for offset in range(_CONTEXT_REACH)
        for cmp, bound, order in (("<", ">= c.id -", "DESC"), (">", "<= c.id +", "ASC"))
    )


# The most context can add to a memory's direct match (before the `context` weight).
_CONTEXT_MAX = sum(_CONTEXT_DECAY**place for place in range(_CONTEXT_REACH))
READ_BATCH = 16
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
    # What relevance is made of. The direct match is a convex combination of the normalised
    # lexical and vector scores; `lexical_share` is the lexical part before each query shifts it
    # towards the signal that is surer of its answer (equal by default).
    lexical_share: float = 0.5
    # A memory inherits this share of the direct match of the memory written just before or after
    # it in the same session (half that from two places away): a reply is found through the
    # question it answers. 0 turns it off.
    context: float = 0.5
    # Added when the query names a period ("on 3 May, 2023", "in June") in which the memory was
    # written (or up to a week before: things are told after they happen). 0 turns it off.
    time: float = 0.5


@dataclass
class RecallQuery:
    user_id: str
    text: str
    limit: int = 8
    min_confidence: float = 0.0
    types: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    task_tags: tuple[str, ...] = ()
    candidates: int = 30  # per signal


@dataclass
class Recalled:
    """One memory returned by recall, with every signal that placed it."""

    memory: MemoryEntry
    score: float
    signals: dict[str, float]  # the composite rank's signals, each 0..1
    via: str  # the retrievers that found it: "vector", "lexical", "lexical+vector" or "context"
    # What `signals["relevance"]` is made of (the parts add up to it): "lexical" and "vector"
    # (each signal's normalised score, weighted by its share for this query), "context" (what it
    # inherits from the memories written next to it) and, when the query names a period, "time"
    # (more than 0 if the memory was written in it).
    relevance_parts: dict[str, float] = field(default_factory=dict)


@dataclass
class RecallResult:
    items: list[Recalled]
    dropped: dict[int, str] = field(default_factory=dict)  # memory id -> filter that dropped it
    candidates: dict[str, int] = field(default_factory=dict)  # signal -> candidate count
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Match:
    """How well candidates match a query directly: each signal normalised, and fused."""

    vector: dict[int, float]
    lexical: dict[int, float]
    lexical_share: float = 0.5  # for this query
    direct: dict[int, float] = field(default_factory=dict)


class LongTermMemory:
    def __init__(self, engine: Engine, weights: RankWeights | None = None) -> None:
        self.engine = engine
        self.backend = backend_for(engine)
        self._neighbours = _neighbours(self.backend.plain_column)
        self._reads: list[tuple[str, str, dict[str, Any]]] = []  # recalls not yet written
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
        unit of work costs far more than the rows. Ids are assigned under the write lock: the
        first new row takes SQLite's next rowid and the rest follow it, so each entry knows its id
        before its index and audit rows are written."""
        if len(entries) != len(vectors):
            raise ValueError(f"{len(entries)} entries but {len(vectors)} vectors")
        if not entries:
            return entries
        insert = f"INSERT INTO memory ({_COLUMN_LIST}) VALUES ({','.join('?' * len(_COLUMNS))})"

        def row(entry: MemoryEntry) -> tuple[Any, ...]:
            """Column values (in _COLUMNS order) as the ORM stores them: times as UTC text (naive
            ones as they are), tags as JSON."""
            values, loaded = [], entry.__dict__  # the instance's own values: no descriptor per column
            for name in _COLUMNS:
                value = loaded[name] if name in loaded else getattr(entry, name)
                if isinstance(value, datetime):
                    value = _stamp(value) if value.tzinfo else value.strftime("%Y-%m-%d %H:%M:%S.%f")
                elif name == "tags":
                    value = json.dumps(value)
                values.append(value)
            return tuple(values)

        given = [e for e in entries if e.id is not None]
        fresh = [e for e in entries if e.id is None]

        def assign(first: int) -> None:
            for offset, entry in enumerate(fresh):
                entry.id = first + offset

        with self.engine.begin() as conn:
            self.backend.insert_memories(
                conn, insert, [row(e) for e in given], [row(e) for e in fresh], assign
            )
            self.backend.index(
                conn,
                [(e.id, e.user_id, e.content, v) for e, v in zip(entries, vectors, strict=True)],  # type: ignore[misc]
            )
            now = _stamp(utcnow())
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
        with Session(self.engine) as s:
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
        with Session(self.engine) as s:
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
        with self.engine.begin() as conn:
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
        """Record one recall: access stats for its ids and an audit 'read' row (query, ids,
        scores). Recalls are written in batches of READ_BATCH, not one write per query; reads of
        stats and audit (history, all_entries) and close() flush what is pending first."""
        detail = {
            "query": redact(query)[:200],
            "ids": list(ids),
            "scores": {str(k): round(v, 4) for k, v in scores.items()},
        }
        self._reads.append((_stamp(utcnow()), user_id, detail))
        if len(self._reads) >= READ_BATCH:
            self.flush_reads()

    def flush_reads(self) -> None:
        reads, self._reads = self._reads, []
        if not reads:
            return
        with self.engine.begin() as conn:
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
                conn, f"SELECT {_COLUMN_LIST} FROM memory WHERE {where} ORDER BY id", params
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
        self.flush_reads()
        with Session(self.engine) as s:
            return list(
                s.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.user_id == user_id)  # type: ignore[arg-type]
                    .order_by(AuditEvent.id)  # type: ignore[arg-type]
                )
            )

    def all_entries(self, user_id: str) -> list[MemoryEntry]:
        self.flush_reads()
        return self._select("user_id = ?", (user_id,))

    def nearest(self, user_id: str, vector: list[float], k: int = 5) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) of the user's k nearest active memories."""
        with self.engine.connect() as conn:
            return [(rid, 1.0 - dist) for rid, dist in self.backend.nearest(conn, user_id, vector, k)]

    def recall(self, query: RecallQuery, vector: list[float] | None) -> RecallResult:
        """The user's memories that best match `query`, ranked, each with what placed it; what
        the hard filters or the limit dropped; and a warning for a signal that could not run."""
        result = RecallResult(items=[])
        w = self.weights
        terms = search_terms(query.text)
        if vector is None:
            result.warnings.append("vector signal skipped: no query embedding")
        if not terms:
            result.warnings.append("lexical signal skipped: no searchable words in the query")
        with self.engine.connect() as conn:
            match = self._direct(conn, query, terms, vector)
            result.candidates = {"vector": len(match.vector), "lexical": len(match.lexical)}
            if not match.direct:
                return result
            context: dict[int, float] = {}
            if w.context:
                # Context flows from the best direct matches only (as many as the limit): a weak
                # match's neighbours would not reach the top, and each costs a row to rank.
                best = sorted(match.direct, key=match.direct.__getitem__, reverse=True)[: query.limit]
                context = self._context(conn, query.user_id, {m: match.direct[m] for m in best})
            result.candidates["context"] = len(context.keys() - match.direct.keys())
            # Filter and rank on a few columns; load whole entries only for what is returned.
            ids = list(match.direct.keys() | context.keys())
            rows = execute(
                conn,
                "SELECT id, status, valid_until, confidence, memory_type, tags, created_at, access_count "
                f"FROM memory WHERE user_id = ? AND id IN ({','.join('?' * len(ids))})",
                (query.user_id, *ids),
            ).fetchall()
        periods = named_periods(query.text) if w.time else []
        scale = 1.0 + w.context * _CONTEXT_MAX + (w.time if periods else 0.0)  # relevance within 0..1
        now = utcnow()
        max_access = max((r[7] for r in rows), default=0)
        task_tags = set(query.task_tags)
        # (score, id, relevance, confidence, recency, frequency, task, context, time); the
        # explanation's dicts are built for the returned few only.
        ranked: list[tuple[float, int, float, float, float, float, float, float, float]] = []
        for mid, status, valid_until, confidence, memory_type, tags_json, created, access in rows:
            tags = set(_tags(tags_json))
            reason = _drop_reason(query, status, _when(valid_until), confidence, memory_type, tags, now)
            if reason:
                result.dropped[mid] = reason
                continue
            written = _when(created) or now
            in_context = context.get(mid, 0.0)
            in_time = 1.0 if periods and written_in(written, periods) else 0.0
            relevance = (
                match.direct.get(mid, 0.0) + w.context * _CONTEXT_MAX * in_context + w.time * in_time
            ) / scale
            age_days = max(0.0, (now - written).total_seconds() / 86_400)
            recency = 0.5 ** (age_days / w.recency_half_life_days)
            frequency = math.log1p(access) / math.log1p(max_access) if max_access else 0.0
            task = 1.0 if task_tags & tags else 0.0
            score = (
                w.relevance * relevance
                + w.confidence * confidence
                + w.recency * recency
                + w.frequency * frequency
                + w.task * task
            )
            ranked.append((score, mid, relevance, confidence, recency, frequency, task, in_context, in_time))
        ranked.sort(key=lambda r: (-r[0], r[1]))
        top, rest = ranked[: query.limit], ranked[query.limit :]
        for row in rest:
            result.dropped[row[1]] = f"below top {query.limit}"
        entries = {e.id: e for e in self.get_many(query.user_id, [row[1] for row in top])}
        for score, mid, relevance, confidence, recency, frequency, task, in_context, in_time in top:
            if mid not in entries:  # deleted meanwhile
                continue
            signals = {
                "relevance": relevance,
                "confidence": confidence,
                "recency": recency,
                "frequency": frequency,
                "task": task,
            }
            parts = {
                "lexical": match.lexical_share * match.lexical.get(mid, 0.0) / scale,
                "vector": (1.0 - match.lexical_share) * match.vector.get(mid, 0.0) / scale,
                "context": w.context * _CONTEXT_MAX * in_context / scale,
            }
            if periods:
                parts["time"] = w.time * in_time / scale
            found_by = (("lexical", match.lexical), ("vector", match.vector))
            via = "+".join(name for name, hits in found_by if mid in hits)
            result.items.append(Recalled(entries[mid], score, signals, via or "context", parts))
        return result

    def _direct(
        self, conn: Connection, query: RecallQuery, terms: list[str], vector: list[float] | None
    ) -> _Match:
        """Vector and lexical candidates, each signal normalised to 0..1, and their fusion: a
        convex combination of the normalised scores (Bruch et al., 2023, found it more robust
        than reciprocal-rank fusion, which throws the scores away)."""
        floor = self.weights.min_similarity
        vec_hits = [
            (mid, 1.0 - dist)
            for mid, dist in (
                self.backend.nearest(conn, query.user_id, vector, query.candidates)
                if vector is not None
                else []
            )
            if 1.0 - dist >= floor
        ]
        lex_hits = self.backend.lexical(conn, query.user_id, terms, query.candidates)
        match = _Match(
            vector=normalise(vec_hits, query.candidates, floor),
            lexical=normalise(lex_hits, query.candidates, 0.0),
        )
        # How far a signal's best stands out from the rest of its top ten says how sure the signal
        # is for this query (a score-distribution query-performance predictor): the shares follow
        # it from the configured prior. A signal that could not run or found nothing is not sure.
        prior = self.weights.lexical_share
        lexical = prior * decisiveness(match.lexical)
        vectors = (1.0 - prior) * decisiveness(match.vector)
        share = match.lexical_share = lexical / (lexical + vectors) if lexical + vectors else prior
        for mid, value in match.lexical.items():
            match.direct[mid] = share * value
        for mid, value in match.vector.items():
            match.direct[mid] = match.direct.get(mid, 0.0) + (1.0 - share) * value
        return match

    # --- internals -------------------------------------------------------------------------
    def _context(self, conn: Connection, user_id: str, direct: dict[int, float]) -> dict[int, float]:
        """The context each memory near a candidate in the same session inherits, 0..1: at each
        distance the best direct match of a candidate there, discounted by the distance, summed
        over distances. Memories without a session have no context. One statement; each lookup
        walks a few rows by id."""
        ids = list(direct)
        rows = execute(
            conn,
            f"SELECT c.id, {self._neighbours} FROM memory c "
            f"WHERE c.user_id = ? AND c.session_id IS NOT NULL AND c.id IN ({','.join('?' * len(ids))})",
            (user_id, *ids),
        ).fetchall()
        best: dict[tuple[int, int], float] = {}  # (memory, places away) -> best direct match there
        for mid, *near in rows:
            for i, neighbour in enumerate(near):
                key = (neighbour, i // 2)
                if neighbour is not None and direct[mid] > best.get(key, 0.0):
                    best[key] = direct[mid]
        context: dict[int, float] = {}
        for (neighbour, place), value in best.items():
            context[neighbour] = context.get(neighbour, 0.0) + value * _CONTEXT_DECAY**place / _CONTEXT_MAX
        return context

    def delete_user(self, user_id: str) -> int:
        """Right to be forgotten: every memory, vector, lexical row and audit row of the user."""
        self.flush_reads()
        with self.engine.begin() as conn:
            ids = [r[0] for r in execute(conn, "SELECT id FROM memory WHERE user_id = ?", (user_id,))]
            self.backend.unindex(conn, ids)
            execute(conn, "DELETE FROM memory WHERE user_id = ?", (user_id,))
            execute(conn, "DELETE FROM audit WHERE user_id = ?", (user_id,))
        return len(ids)


_COLUMNS = [name for name in MemoryEntry.model_fields]
assert _COLUMNS[0] == "id"  # backends number new rows by their first column
_COLUMN_LIST = ", ".join(_COLUMNS)
_TIMES = ("created_at", "last_accessed", "valid_until")


def _entry(row: Any) -> MemoryEntry:
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in _TIMES:
        values[name] = _when(values[name])
    values["tags"] = _tags(values["tags"])
    return MemoryEntry.model_construct(**values)  # trusted columns: skip validation (8x faster)


def _stamp(value: datetime) -> str:
    """A timestamp as SQLModel stores it (text, UTC)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _when(value: str | datetime | None) -> datetime | None:
    """A stored timestamp (UTC: text from SQLite, a naive datetime from PostgreSQL) to an aware
    datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _tags(value: str | list[str] | None) -> list[str]:
    """Stored tags (JSON text from SQLite, already decoded from PostgreSQL) to a list."""
    if isinstance(value, list):
        return value
    return json.loads(value) if value and value != "[]" else []


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
