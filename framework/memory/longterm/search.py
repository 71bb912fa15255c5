"""Hybrid recall that explains itself: vector and lexical candidates, fused; context, subject and
time; hard filters; a weighted composite rank.

Vector (sqlite-vec or pgvector, one user's rows) and lexical (FTS5 BM25 or Postgres full-text)
candidates are normalised and fused; a memory also inherits part of the match of the memories
written next to it in the same session (its context), gains when it opens with a word the query
uses (its speaker, "Ada: ...", or subject), and gains when it was written in a period the query
names or speaks of one ("last month"). Hard filters follow (user, status, validity, confidence,
type, tags), each drop recorded with its reason, then the composite rank (relevance, confidence,
recency, access frequency, task relevance, substance: how much a memory states) with configurable
weights. A signal that could not run is a warning.

As of a past time (`SearchQuery.as_of`: "what did we know then"), the filters keep what was active
then (framework.memory.longterm.timeline): the indexed memories known and valid by then, and the
memories active then that are not now, which no index holds: their vectors are given to `search`
(`past`) and they compete on the vector signal only. Recency is measured from as_of.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from framework.log import logger
from framework.memory.longterm.backends import Backend, backend_for, execute
from framework.memory.longterm.records import (
    COLUMN_LIST,
    COLUMNS,
    MemoryEntry,
    MemoryStatus,
    as_utc,
    entry_from_row,
    stored_tags,
    utcnow,
)
from framework.memory.longterm.relevance import decisiveness, normalise, opening, substance, written_in
from framework.memory.longterm.relevance import periods as named_periods
from framework.memory.longterm.relevance import terms as search_terms
from framework.ranking import RankWeights

# Context reaches the memories written up to _CONTEXT_REACH places before or after a memory in
# its session, each place further inheriting half as much. The n-th memory before (after) memory c
# is looked for among the _CONTEXT_WINDOW rows before (after) it by id; user_id and status are
# compared unindexed so that the planner walks that id range, not an index of every user's row.
T = TypeVar("T")

_CONTEXT_REACH = 2
_CONTEXT_DECAY = 0.5
_CONTEXT_WINDOW = 64
_ADJACENT = (
    "(SELECT m.id FROM memory m WHERE m.id {cmp} c.id AND m.id {bound} {window} "
    "AND {user} = c.user_id AND m.session_id = c.session_id AND {status} = 'active' "
    "ORDER BY m.id {order} LIMIT 1 OFFSET {offset})"
)


def _neighbours(backend: Backend) -> list[str]:
    """The ids next to memory c, nearest first, before and after in turn: a scalar subquery each."""
    return [
        _ADJACENT.format(
            cmp=cmp,
            bound=bound,
            window=_CONTEXT_WINDOW,
            order=order,
            offset=offset,
            user=backend.unindexed("m.user_id"),
            status=backend.unindexed("m.status"),
        )
        for offset in range(_CONTEXT_REACH)
        for cmp, bound, order in (("<", ">= c.id -", "DESC"), (">", "<= c.id +", "ASC"))
    ]


_ACTIVE = MemoryStatus.active.value
# How much of a memory's content is read for the word it opens with.
_OPENING = 64
# Where the columns that rank a candidate are in its row.
_ID, _SESSION, _STATUS, _VALID_UNTIL, _CONFIDENCE, _TYPE, _TAGS, _CREATED, _ACCESS, _CONTENT = (
    COLUMNS.index(name)
    for name in (
        "id",
        "session_id",
        "status",
        "valid_until",
        "confidence",
        "memory_type",
        "tags",
        "created_at",
        "access_count",
        "content",
    )
)

# The most context can add to a memory's direct match (before the `context` weight).
_CONTEXT_MAX = sum(_CONTEXT_DECAY**place for place in range(_CONTEXT_REACH))


@dataclass
class SearchQuery:
    user_id: str
    text: str
    limit: int = 8
    min_confidence: float = 0.0
    types: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    task_tags: tuple[str, ...] = ()
    candidates: int = 40  # per signal
    as_of: datetime | None = None  # recall what was active then (aware); None: now
    # More words for the lexical signal alone (a query rewrite's keywords: framework.memory.rewrite):
    # they add matches; the subject and time signals read the query's own text only.
    expansion: tuple[str, ...] = ()


@dataclass
class RankedMemory:
    """One memory returned by recall, with every signal that placed it."""

    memory: MemoryEntry
    score: float
    signals: dict[str, float]  # the composite rank's signals, each 0..1
    via: str  # the retrievers that found it: "vector", "lexical", "lexical+vector" or "context"
    # What `signals["relevance"]` is made of (the parts add up to it): "lexical" and "vector"
    # (each signal's normalised score, weighted by its share for this query), "context" (what it
    # inherits from the memories written next to it), "subject" (more than 0 if the memory opens
    # with a word the query uses) and, when the query names a period, "time" (more than 0 if the
    # memory was written in it).
    relevance_parts: dict[str, float] = field(default_factory=dict)


@dataclass
class SearchResult:
    items: list[RankedMemory]
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


class HybridSearch:
    """Recall over one store."""

    def __init__(self, engine: Engine, weights: RankWeights) -> None:
        self.engine = engine
        self.backend = backend_for(engine)
        self.weights = weights
        self._neighbours = _neighbours(self.backend)

    def search(
        self, query: SearchQuery, vector: list[float] | None, past: dict[int, list[float]] | None = None
    ) -> SearchResult:
        """The user's memories that best match `query`, ranked, each with what placed it; what
        the hard filters or the limit dropped; and a warning for a signal that could not run.
        `past`: with `query.as_of`, the vectors of the memories active then that are not now."""
        past = past if query.as_of is not None and past else {}
        result = SearchResult(items=[])
        w = self.weights
        terms = search_terms(query.text)
        searched = terms + [t for t in search_terms(" ".join(query.expansion)) if t not in terms]
        if vector is None:
            result.warnings.append("vector signal skipped: no query embedding")
        if not searched:
            result.warnings.append("lexical signal skipped: no searchable words in the query")
        with self.engine.connect() as conn:
            match = self._direct(conn, query, searched, vector, result.warnings, past)
            result.candidates = {"vector": len(match.vector), "lexical": len(match.lexical)}
            if not match.direct:
                return result
            # Context flows from the best direct matches only (as many as the limit): a weak
            # match's neighbours would not reach the top, and each costs a row to rank.
            best = (
                sorted(match.direct, key=match.direct.__getitem__, reverse=True)[: query.limit]
                if w.context
                else []
            )
            rows, context = self._candidates(
                conn, query.user_id, match.direct, {m: match.direct[m] for m in best}
            )
            result.candidates["context"] = len(context.keys() - match.direct.keys())
            periods = named_periods(query.text) if w.time else []
        asked = set(terms)
        # relevance within 0..1
        scale = 1.0 + w.context * _CONTEXT_MAX + w.subject + (w.time if periods else 0.0)
        now = query.as_of or utcnow()
        max_access = max((r[_ACCESS] for r in rows), default=0)
        task_tags = set(query.task_tags)
        # [score, id, relevance, confidence, recency, frequency, task, substance, context, subject,
        # time]; the explanation's dicts are built for the returned few only.
        ranked: list[list[Any]] = []
        by_id: dict[int, Any] = {}
        for row in rows:
            mid, status, valid_until, confidence = row[_ID], row[_STATUS], row[_VALID_UNTIL], row[_CONFIDENCE]
            memory_type, tags_json, created, access = row[_TYPE], row[_TAGS], row[_CREATED], row[_ACCESS]
            # The whole content when the query names a period (a memory may speak of an earlier
            # one: "last month"), else only its opening.
            content = row[_CONTENT] if periods else row[_CONTENT][:_OPENING]
            by_id[mid] = row
            # tags are read only where a filter or the task signal looks at them
            tags = set(stored_tags(tags_json)) if query.tags is not None or task_tags else set()
            written = as_utc(created) or now
            if mid in past:
                status = _ACTIVE  # active as of query.as_of
            reason = _drop_reason(query, status, as_utc(valid_until), confidence, memory_type, tags, now)
            if reason is None and query.as_of is not None and written > query.as_of:
                reason = f"written after {query.as_of:%Y-%m-%d %H:%M}"
            if reason:
                result.dropped[mid] = reason
                continue
            in_context = context.get(mid, 0.0)
            in_time = 1.0 if periods and written_in(written, periods, content) else 0.0
            in_subject = 1.0 if w.subject and opening(content[:_OPENING]) in asked else 0.0
            relevance = (
                match.direct.get(mid, 0.0)
                + w.context * _CONTEXT_MAX * in_context
                + w.subject * in_subject
                + w.time * in_time
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
            ranked.append(
                [
                    score,
                    mid,
                    relevance,
                    confidence,
                    recency,
                    frequency,
                    task,
                    0.0,
                    in_context,
                    in_subject,
                    in_time,
                ]
            )
        if w.substance:
            _add_substance(ranked, by_id, w.substance, query.limit)
        ranked.sort(key=lambda r: (-r[0], r[1]))
        top, rest = ranked[: query.limit], ranked[query.limit :]
        for below in rest:
            result.dropped[below[1]] = f"below top {query.limit}"
        for score, mid, relevance, confidence, recency, frequency, task, said, *found_in in top:
            in_context, in_subject, in_time = found_in
            signals = {
                "relevance": relevance,
                "confidence": confidence,
                "recency": recency,
                "frequency": frequency,
                "task": task,
                "substance": said,
            }
            parts = {
                "lexical": match.lexical_share * match.lexical.get(mid, 0.0) / scale,
                "vector": (1.0 - match.lexical_share) * match.vector.get(mid, 0.0) / scale,
                "context": w.context * _CONTEXT_MAX * in_context / scale,
                "subject": w.subject * in_subject / scale,
            }
            if periods:
                parts["time"] = w.time * in_time / scale
            found_by = (("lexical", match.lexical), ("vector", match.vector))
            via = "+".join(name for name, hits in found_by if mid in hits)
            result.items.append(
                RankedMemory(entry_from_row(by_id[mid]), score, signals, via or "context", parts)
            )
        return result

    def _direct(
        self,
        conn: Connection,
        query: SearchQuery,
        terms: list[str],
        vector: list[float] | None,
        warnings: list[str],
        past: dict[int, list[float]],
    ) -> _Match:
        """Vector and lexical candidates, each signal normalised to 0..1, and their fusion: a
        convex combination of the normalised scores (Bruch et al., 2023, found it more robust
        than reciprocal-rank fusion, which throws the scores away). A signal whose index fails
        (missing, corrupt) adds a warning and no candidates; the other still runs."""
        floor = self.weights.min_similarity
        # The vector search's scan of process memory (a large user's) runs while the lexical
        # search has the connection.
        pending = None
        if vector is not None:
            pending = _signal(
                "vector",
                lambda: self.backend.begin_nearest(conn, query.user_id, vector, query.candidates),
                conn,
                warnings,
            )
        lex_hits = (
            _signal(
                "lexical",
                lambda: self.backend.lexical(conn, query.user_id, terms, query.candidates),
                conn,
                warnings,
            )
            or []
        )
        nearest = (_signal("vector", pending, conn, warnings) if pending else None) or []
        if vector is not None and past:  # memories active as of query.as_of that no index holds
            nearest = sorted(
                [*nearest, *((mid, 1.0 - _cosine(vector, v)) for mid, v in past.items())],
                key=lambda hit: hit[1],
            )
        vec_hits = [(mid, 1.0 - dist) for mid, dist in nearest if 1.0 - dist >= floor]
        match = _Match(
            # Cosine similarity has an absolute scale whose 0 is the floor; BM25 has none, so the
            # score at the candidate depth is its 0.
            vector=normalise(vec_hits, None, floor),
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

    def _candidates(
        self, conn: Connection, user_id: str, direct: dict[int, float], best: dict[int, float]
    ) -> tuple[list[Any], dict[int, float]]:
        """The whole rows of the direct matches and of the memories next to the `best` of them in
        their session, in one statement (a statement each cost a round trip: ~1.5 ms on
        PostgreSQL), and the context each memory inherits (`_context`). The neighbours are
        looked up by id, a few rows walked each."""
        statement = f"SELECT {COLUMN_LIST} FROM memory WHERE user_id = ? AND id IN ({_marks(direct)})"
        params: list[Any] = [user_id, *direct]
        if best:
            near = " UNION ALL ".join(
                f"SELECT {adjacent} FROM memory c WHERE c.user_id = ? AND c.session_id IS NOT NULL "
                f"AND c.id IN ({_marks(best)})"
                for adjacent in self._neighbours
            )
            statement += f" UNION ALL SELECT {COLUMN_LIST} FROM memory WHERE user_id = ? AND id IN ({near})"
            params += [user_id, *[value for _ in self._neighbours for value in (user_id, *best)]]
        rows = list({row[_ID]: row for row in execute(conn, statement, tuple(params)).fetchall()}.values())
        return rows, _context(rows, best)


def _add_substance(ranked: list[list[Any]], rows: dict[int, Any], weight: float, limit: int) -> None:
    """Each ranked candidate's score raised by `weight` times its substance (how much it states:
    relevance.substance), read only for the candidates it can lift into the top `limit`: the
    limit-th best score before it is a floor that every returned score reaches, so a candidate
    that falls short of it even with the whole weight added is below the top either way."""
    if len(ranked) > limit:
        floor = sorted((r[0] for r in ranked), reverse=True)[limit - 1] if limit > 0 else math.inf
    else:
        floor = -math.inf
    for entry in ranked:
        if entry[0] + weight >= floor:
            entry[7] = substance(rows[entry[1]][_CONTENT])
            entry[0] += weight * entry[7]


def _marks(ids: dict[int, float]) -> str:
    return ",".join("?" * len(ids))


def _context(rows: list[Any], best: dict[int, float]) -> dict[int, float]:
    """The context each memory near a best match in the same session inherits, 0..1: at each
    distance the best direct match of a memory there, discounted by the distance, summed over
    distances. The n-th memory before (after) c is the n-th active memory of c's session before
    (after) it within _CONTEXT_WINDOW ids: `rows` hold every one of those up to _CONTEXT_REACH
    (`_candidates` read them), and any other active row there would be one of them (rows no
    longer active are there only as matches as of a past time). Memories without a session have
    no context."""
    session_of = {row[_ID]: row[_SESSION] for row in rows}
    active: dict[str, list[int]] = {}  # session -> its active memories' ids, ascending
    for row in sorted(rows, key=lambda r: r[_ID]):
        if row[_SESSION] is not None and row[_STATUS] == _ACTIVE:
            active.setdefault(row[_SESSION], []).append(row[_ID])
    strongest: dict[tuple[int, int], float] = {}  # (memory, places away) -> best direct match there
    for mid, score in best.items():
        session = session_of.get(mid)
        if session is None:
            continue
        ids = active.get(session, [])
        before = [n for n in reversed(ids[: bisect_left(ids, mid)]) if n >= mid - _CONTEXT_WINDOW]
        after = [n for n in ids[bisect_right(ids, mid) :] if n <= mid + _CONTEXT_WINDOW]
        for side in (before, after):
            for place, neighbour in enumerate(side[:_CONTEXT_REACH]):
                if score > strongest.get((neighbour, place), 0.0):
                    strongest[(neighbour, place)] = score
    context: dict[int, float] = {}
    for (neighbour, place), value in strongest.items():
        context[neighbour] = context.get(neighbour, 0.0) + value * _CONTEXT_DECAY**place / _CONTEXT_MAX
    return context


def _signal(name: str, search: Callable[[], T], conn: Connection, warnings: list[str]) -> T | None:
    """One retrieval signal's hits (or the search begun), or None and a warning (also logged)
    when its index fails."""
    try:
        return search()
    except DBAPIError as exc:
        if exc.connection_invalidated:  # the database is gone, not one index: not a warning
            raise
        conn.rollback()  # a read: nothing is lost, and PostgreSQL can run the next statement
        warning = f"{name} signal failed, recall used the others: {str(exc.orig).strip()}"
        warnings.append(warning)
        logger.warning("recall: %s", warning)
        return None


def _cosine(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def _drop_reason(
    query: SearchQuery,
    status: str,
    valid_until: datetime | None,
    confidence: float,
    memory_type: str,
    tags: set[str],
    now: datetime,
) -> str | None:
    """The hard filter that drops a candidate, or None if it passes them all."""
    if status != _ACTIVE:
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
