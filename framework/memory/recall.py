"""Step 2, retrieve: what memory contributes to a turn — every active constraint and preference
(complete, never top-k), the best-ranked facts and outcomes from long-term memory's hybrid search
(each explained), the skills whose use matches, the policies in force — as of now or of a past
time; and `related`, the same search for memory work, not counted as a recall.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from framework.embeddings import Embedder
from framework.errors import ConfigurationError, InvalidInput
from framework.log import user_ref
from framework.memory.longterm import LongTermMemory, MemoryEntry, MemoryType, SearchQuery
from framework.memory.procedural import Procedures
from framework.memory.recollection import Recollection
from framework.memory.rewrite import QueryRewriter, Rewrite, widened
from framework.telemetry import NULL, Span, content_traced

RECALL_MIN_CONFIDENCE = 0.7  # the seed's: recall leaves out memories less sure than this
# Recall as of a past time ranks at most this many of the memories active then and not now (the
# latest written), embedding their words again: no index holds them.
PAST_CANDIDATES = 1000


def checked_min_confidence(value: object) -> float:
    """The recall threshold, refused unless a confidence between 0 and 1 (checked before anything
    is opened)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ConfigurationError(
            f"recall_min_confidence: expected a confidence between 0 and 1, got "
            f"{value!r} (the seed's default is {RECALL_MIN_CONFIDENCE}: recall "
            "leaves out memories less sure than that; set it on the agent class)"
        )
    return float(value)


class Recall:
    """Recall over one long-term store: `limit` facts and outcomes at most, none less sure than
    `min_confidence` (constraints are always included); with a `rewriter`, the search widened by
    an LLM's hints first (framework.memory.rewrite)."""

    def __init__(
        self,
        long_term: LongTermMemory,
        embedder: Embedder,
        limit: int,
        min_confidence: float,
        rewriter: QueryRewriter | None = None,
    ) -> None:
        self.long_term = long_term
        self.embedder = embedder
        self.limit = limit
        self.min_confidence = checked_min_confidence(min_confidence)
        self.rewriter = rewriter

    def recall(
        self,
        user_id: str | None,
        query: str,
        task_tags: tuple[str, ...],
        procedures: Procedures,
        span: Span = NULL,
        *,
        as_of: datetime | None = None,
        rewrite: bool = True,
        hints: Rewrite | None = None,
    ) -> Recollection:
        """Everything long-term and procedural memory contribute to a turn about `query`: all active
        preferences and constraints, the best-ranked facts and outcomes (each explained), the
        skills whose use matches, and the policies in force. Traced as a `framework.recall` span
        under `span`: counts, latency, top scores (the memories' text only when asked for).

        `as_of` (a datetime; naive is UTC): what we knew then — the memories active at that time,
        those superseded or expired since included, those written after it left out, those forgotten
        never: forgetting is for good (framework.memory.longterm.timeline). Confidences are
        today's. With a rewriter the search is widened by its hints, asked here unless given
        (`hints`: a turn asks through its driver); `rewrite=False`: none asked (an acknowledgement
        has nothing to search for)."""
        when = _as_of(as_of)
        started = time.perf_counter()
        traced = span.child("framework.recall", {"framework.user": user_ref(user_id)})
        try:
            found = self._recall(user_id, query, task_tags, procedures, when, rewrite, traced, hints)
        except BaseException as exc:
            traced.fail(exc)
            traced.end()
            raise
        traced.update(
            {
                "framework.recall.preferences": len(found.preferences),
                "framework.recall.constraints": len(found.constraints),
                "framework.recall.relevant": len(found.relevant),
                "framework.recall.dropped": len(found.dropped),
                "framework.recall.top_scores": [round(r.score, 4) for r in found.relevant[:5]],
                "framework.recall.embed_ms": round(found.embed_ms, 3),
                "framework.recall.rewrite_ms": round(found.rewrite.ms, 3) if found.rewrite else None,
                "framework.recall.rewrite_failed": found.rewrite.failed if found.rewrite else None,
                "framework.recall.latency_ms": round((time.perf_counter() - started) * 1000, 3),
                "framework.recall.query": query if content_traced() else None,
                "framework.recall.memories": [r.memory.content for r in found.relevant]
                if content_traced()
                else None,
            }
        )
        traced.end()
        return found

    def _recall(
        self,
        user_id: str | None,
        query: str,
        task_tags: tuple[str, ...],
        procedures: Procedures,
        as_of: datetime | None = None,
        rewrite: bool = True,
        span: Span = NULL,
        hints: Rewrite | None = None,
    ) -> Recollection:
        """Everything long-term and procedural memory contribute to a turn about `query` (as of
        `as_of`, when given): all active preferences and constraints, the best-ranked facts and
        outcomes (each explained), the skills whose use matches, and the policies in force."""
        skills = [s for s in procedures.skills if _overlaps(query, s.when_to_use + " " + s.name)]
        if user_id is None:
            return Recollection(
                [],
                [],
                [],
                skills,
                procedures.policies,
                warnings=["anonymous session: long-term memory not consulted"],
            )
        if hints is None and self.rewriter is not None and rewrite:
            hints = self.rewriter.rewrite(query, span)
        started = time.perf_counter()
        vector = self.query_vector(user_id, query, hints)
        embed_ms = (time.perf_counter() - started) * 1000
        lt = self.long_term
        floor = self.min_confidence
        # Every active constraint (a rule is kept or retired, never faded out); every active
        # preference as sure as the recall threshold; the facts and outcomes that best match.
        always, unsure = [], {}
        structured = (MemoryType.preference.value, MemoryType.constraint.value)
        searched = (MemoryType.fact.value, MemoryType.outcome.value)
        past: dict[int, list[float]] = {}  # as of a past time: what was active then and is not now
        if as_of is None:
            kept = lt.active(user_id, structured)
        else:
            kept = lt.active_at(user_id, as_of, structured)
            past = self.past_vectors(user_id, as_of, searched) if vector is not None else {}
        for m in kept:
            if m.memory_type == MemoryType.preference.value and m.confidence < floor and m.id is not None:
                unsure[m.id] = f"confidence {m.confidence:.2f} < {floor:.2f}"
            else:
                always.append(m)
        found = lt.search(
            SearchQuery(
                user_id,
                query,
                limit=self.limit,
                min_confidence=floor,
                types=searched,
                task_tags=task_tags,
                as_of=as_of,
                expansion=hints.keywords if hints else (),
            ),
            vector,
            past,
        )
        used = [m.id for m in always] + [r.memory.id for r in found.items]
        lt.touch(
            user_id,
            [i for i in used if i is not None],
            query,
            {r.memory.id: r.score for r in found.items if r.memory.id is not None},
            {**found.candidates, "dropped": len(found.dropped)},
        )
        return Recollection(
            preferences=[m for m in always if m.memory_type == MemoryType.preference.value],
            constraints=[m for m in always if m.memory_type == MemoryType.constraint.value],
            relevant=found.items,
            skills=skills,
            policies=procedures.policies,
            dropped={**unsure, **{k: v for k, v in found.dropped.items() if not v.startswith("type ")}},
            candidates=found.candidates,
            warnings=found.warnings + ([warning] if hints and (warning := hints.warning()) else []),
            embed_ms=embed_ms,
            rewrite=hints,
        )

    def query_vector(self, user_id: str, query: str, rewrite: Rewrite | None = None) -> list[float] | None:
        """The question's focused vector (LongTermMemory.query_vector), moved GUESS_SHARE of the way
        towards the rewrite's guessed answer when there is one (`widened`): all embedded in one call."""
        texts = self.long_term.query_texts(user_id, query)
        guess = [rewrite.guess] if rewrite is not None and rewrite.guess and texts else []
        vectors = self.embedder.embed(texts + guess) if texts else []
        vector = self.long_term.vector_of(texts, lambda _texts: vectors[: len(texts)])
        if vector is None or not guess:
            return vector
        return widened(vector, vectors[-1])

    def past_vectors(
        self, user_id: str, as_of: datetime, types: Sequence[str] | None = None
    ) -> dict[int, list[float]]:
        """The vectors of the user's memories (of these types) that were active at `as_of` and are
        not now, the latest PAST_CANDIDATES of them: no index holds them, so recall as of then
        embeds their words again (SearchQuery.as_of)."""
        ended = self.long_term.active_at(user_id, as_of, types, ended_only=True)[-PAST_CANDIDATES:]
        if not ended:
            return {}
        vectors = self.embedder.embed([e.content for e in ended])
        return {e.id: v for e, v in zip(ended, vectors, strict=True) if e.id is not None}

    def related(self, user_id: str, query: str, exclude: set[int | None] | None = None) -> list[MemoryEntry]:
        """Active facts and outcomes ranked for `query`, without counting as a recall (no access
        stamps): what memory work compares a turn's new memories with."""
        if not query.strip():
            return []
        found = self.long_term.search(
            SearchQuery(
                user_id,
                query,
                limit=self.limit,
                types=(MemoryType.fact.value, MemoryType.outcome.value),
            ),
            self.long_term.query_vector(user_id, query, self.embedder.embed),
        )
        return [r.memory for r in found.items if r.memory.id not in (exclude or set())]


def _overlaps(query: str, text: str) -> bool:
    words = {w for w in query.lower().split() if len(w) > 3}
    return bool(words & {w.strip(".,:;") for w in text.lower().split()})


def _as_of(value: object) -> datetime | None:
    """recall's as_of as an aware UTC datetime (a naive one is UTC), or None for now."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInput(
            f"recall(..., as_of=): expected a datetime (e.g. datetime(2023, 5, 8, tzinfo=UTC)), "
            f"got {type(value).__name__}"
        )
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
