"""Curation: what a turn's candidate memories do to long-term memory.

Every candidate passes the write policy first. Then it is resolved against what is stored:
a near-duplicate reinforces the existing memory; a refinement supersedes it with the merged
statement; a contradiction keeps the better-supported side and supersedes the other (the new
fact is never deleted, the old never leaves the audit); anything else is written. Similar
memories the extraction call was not shown are judged in ONE structured call for the whole turn
(bounded pairs, never n²). Every decision is made before anything is written, so a failed call
writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from framework.embeddings import Embedder
from framework.memory.governance.candidates import Comparison, Extraction, MemoryCandidate, PairVerdict
from framework.memory.governance.provenance import (
    TOOL_CONFIDENCE_CEILING,
    USER_SOURCES,
    Attribution,
    may_change,
)
from framework.memory.governance.provenance import rejection as provenance_rejection
from framework.memory.governance.write_policy import WritePolicy
from framework.memory.longterm.records import MemoryEntry, MemorySource, utcnow
from framework.memory.longterm.store import LongTermMemory
from framework.memory.operations import MemoryOp
from framework.memory.timeexpr import when_tags
from framework.memory.working import WorkingState
from framework.memory.working.conversation import awaited_kind, leading_value
from framework.sensitive import Finding, find_sensitive_in_context, redact, repeats_secret

Action = Literal["write", "supersede", "reinforce", "overruled", "reject"]
REINFORCE_BONUS = 0.05
# Who said it matters more than how sure the extractor was: an explicit user statement beats an
# inference; between equals the newer statement wins.
_SUPPORT = {
    MemorySource.explicit: 3,
    MemorySource.merged: 2,
    MemorySource.learned: 2,
    MemorySource.inferred: 1,
    MemorySource.tool: 0,
}


@dataclass
class WriteDecision:
    candidate: MemoryCandidate
    action: Action
    reason: str
    target: int | None = None  # the existing memory the action is about
    content: str = ""  # what will be stored (the merged statement for a refinement)
    vector: list[float] | None = None  # the embedding of `content`, when it was already made
    origin: str | None = None  # where its words came from (governance.provenance)


@dataclass
class SimilarPair:
    """A candidate and the stored memories that look like it, for the comparison call."""

    index: int
    candidate: MemoryCandidate
    similar: list[MemoryEntry]


Judge = Callable[[list[SimilarPair]], Comparison]


def better_supported(new: MemoryCandidate, old: MemoryEntry) -> bool:
    return _SUPPORT[new.source] >= _SUPPORT[MemorySource(old.source)]


class Curator:
    def __init__(self, long_term: LongTermMemory, embedder: Embedder, policy: WritePolicy) -> None:
        self.long_term = long_term
        self.embedder = embedder
        self.policy = policy

    def decide(
        self,
        user_id: str | None,
        state: WorkingState,
        extraction: Extraction,
        visible_ids: set[int],
        secrets: set[str],
        judge: Judge | None,
        opted_out: bool = False,
        attributions: list[Attribution] | None = None,
        context: Sequence[str] = (),
    ) -> list[WriteDecision]:
        """What each candidate will do. `attributions` (one per candidate) say whose words each
        is; without them every candidate is the user's (an application's direct `remember`).
        `context` is what the candidates are read after for secrets split or said earlier: the
        user's recent lines and this turn's input (and each candidate after the ones before it)."""
        decisions: dict[int, WriteDecision] = {}
        admitted: list[int] = []
        writes = state.writes
        candidates = list(extraction.memories)
        said_by = attributions or [Attribution(True, f"user:{state.session_id}")] * len(candidates)
        for i, c in enumerate(candidates):
            if not said_by[i].trusted:  # a tool's word: kept as such, never as sure as the user's
                c = candidates[i] = c.model_copy(
                    update={
                        "source": MemorySource.tool,
                        "confidence": min(c.confidence, TOOL_CONFIDENCE_CEILING),
                    }
                )
            why_not = "user opted out of long-term memory" if opted_out else None
            why_not = why_not or self.policy.rejection(
                c.content, c.confidence, anonymous=user_id is None, writes_so_far=writes
            )
            if why_not is None and repeats_secret(c.content, secrets):
                why_not = "sensitive: repeats a secret from the conversation"
            if why_not is None and state.holds_secret_seen_before(c.content):
                why_not = "sensitive: repeats a secret said earlier in this session"
            if why_not is None and self.policy.blocks_any_sensitive:
                split = find_sensitive_in_context(
                    c.content, [*context, *(x.content for x in candidates[:i])], **self.policy.sensitive_flags
                )
                awaited, first = awaited_kind(context[:-1]), leading_value(context[-1]) if context else None
                if awaited and first and first in c.content:  # the value a line left open, given now
                    split.append(Finding(awaited, 0, 0))
                if split:
                    kinds = ", ".join(sorted({f.kind for f in split}))
                    why_not = f"sensitive: {kinds} (read with the conversation and the other memories)"
            why_not = why_not or provenance_rejection(c, said_by[i])
            if why_not is not None or user_id is None:
                decisions[i] = WriteDecision(
                    c, "reject", why_not or "anonymous", content=_withheld(c.content, secrets, why_not)
                )
                continue
            admitted.append(i)
            writes += 1
        if not admitted or user_id is None:
            return [decisions[i] for i in sorted(decisions)]

        vectors = dict(
            zip(admitted, self.embedder.embed([candidates[i].content for i in admitted]), strict=True)
        )
        pairs: list[SimilarPair] = []
        for i in admitted:
            c = candidates[i]
            if c.relation != "new" and c.target in visible_ids:
                old = self.long_term.get(user_id, c.target)
                if old is not None and old.status == "active":
                    decisions[i] = _guarded(
                        _resolve(c, old, c.relation, None, "as the extraction judged"), old, said_by[i]
                    )
                    continue
            near = [
                (mid, sim)
                for mid, sim in self.long_term.nearest(user_id, vectors[i], k=3)
                if sim >= self.policy.compare_similarity
            ]
            entries = {e.id: e for e in self.long_term.get_many(user_id, [mid for mid, _ in near])}
            dup = next(
                (
                    entries[mid]
                    for mid, sim in near
                    if sim >= self.policy.duplicate_similarity
                    and mid in entries
                    and entries[mid].memory_type == c.memory_type.value
                ),
                None,
            )
            if dup is not None and not said_by[i].trusted and dup.source in USER_SOURCES:
                decisions[i] = WriteDecision(
                    c, "reject", f"provenance: restates #{dup.id}, the user's own; {said_by[i].why}"
                )
                continue
            if dup is not None:
                decisions[i] = WriteDecision(
                    c, "reinforce", "near-duplicate of a stored memory", dup.id, dup.content
                )
                continue
            # Memories the extraction was shown have been judged by it already.
            unseen = [entries[mid] for mid, _ in near if mid in entries and mid not in visible_ids]
            if unseen and len(pairs) < self.policy.max_compared_candidates:
                pairs.append(SimilarPair(i, c, unseen))
            else:
                decisions[i] = WriteDecision(c, "write", "new", content=c.content)

        if pairs:
            verdicts = judge(pairs).verdicts if judge is not None else []
            for pair in pairs:
                decided = _apply_verdicts(pair, verdicts, judged=judge is not None)
                target = next((m for m in pair.similar if m.id == decided.target), None)
                decisions[pair.index] = (
                    decided if target is None else _guarded(decided, target, said_by[pair.index])
                )
        for i, vector in vectors.items():  # embedded once: commit reuses it unless the text changed
            if decisions[i].content == candidates[i].content:
                decisions[i].vector = vector
        for i, d in decisions.items():
            d.origin = said_by[i].origin
        return [decisions[i] for i in sorted(decisions)]

    def commit(
        self,
        user_id: str | None,
        state: WorkingState,
        decisions: list[WriteDecision],
        actor: str = "agent",
        said_at: datetime | None = None,
    ) -> list[MemoryOp]:
        """Carry out the decisions; new memories are written as of `said_at` (event time: when
        their words were said; default now), a time-limited one valid for its days from then,
        each tagged with the periods its words speak of, resolved against that time
        (framework.memory.timeexpr: "last Tuesday" -> ``when:2023-05-02``). What a decision
        supersedes or retires stops being active at that time too (recall as_of)."""
        ops: list[MemoryOp] = []
        to_embed = [
            d for d in decisions if d.action in ("write", "supersede", "overruled") and d.vector is None
        ]
        vectors = self.embedder.embed([d.content for d in to_embed]) if to_embed and user_id else []
        for d, v in zip(to_embed, vectors, strict=False):
            d.vector = v
        for d in decisions:
            if d.action == "reject" or user_id is None:
                if user_id is not None:
                    self.long_term.audit(user_id, "reject", d.reason, {"content": d.content})
                ops.append(MemoryOp("reject", None, d.content, d.reason))
                continue
            if d.action == "reinforce":
                assert d.target is not None
                self.long_term.adjust(
                    user_id, [d.target], REINFORCE_BONUS, operation="reinforce", reason=d.reason
                )
                ops.append(MemoryOp("reinforce", d.target, d.content, d.reason))
                continue
            entry = self._entry(user_id, state, d, said_at)
            vector = d.vector
            assert vector is not None
            if d.action == "supersede":
                assert d.target is not None
                new = self.long_term.supersede(
                    user_id, d.target, entry, vector, actor=actor, reason=d.reason, said_at=said_at
                )
            else:
                new = self.long_term.add(entry, vector, actor=actor, reason=d.reason)
                if d.action == "overruled":
                    assert d.target is not None and new.id is not None
                    self.long_term.retire(
                        user_id, new.id, d.target, actor=actor, reason=d.reason, said_at=said_at
                    )
            state.writes += 1
            state.written_ids.append(new.id or 0)
            ops.append(MemoryOp("supersede" if d.action != "write" else "write", new.id, d.content, d.reason))
        return ops

    def _entry(
        self, user_id: str, state: WorkingState, d: WriteDecision, said_at: datetime | None = None
    ) -> MemoryEntry:
        c = d.candidate
        said = said_at or utcnow()
        return MemoryEntry(
            user_id=user_id,
            content=d.content,
            memory_type=c.memory_type.value,
            confidence=c.confidence,
            source=c.source.value,
            tags=list(dict.fromkeys([*c.tags, *when_tags(d.content, said)])),
            created_at=said,
            valid_until=said + timedelta(days=c.valid_for_days) if c.valid_for_days is not None else None,
            session_id=state.session_id,
            embedder=self.embedder.name,
            origin=d.origin,
        )


def _resolve(
    c: MemoryCandidate, old: MemoryEntry, relation: str, merged: str | None, how: str
) -> WriteDecision:
    if relation == "duplicate":
        return WriteDecision(c, "reinforce", f"restates #{old.id} ({how})", old.id, old.content)
    if relation == "refines":
        return WriteDecision(c, "supersede", f"refines #{old.id} ({how})", old.id, merged or c.content)
    if better_supported(c, old):
        return WriteDecision(
            c,
            "supersede",
            f"contradicts #{old.id}: the new {c.source.value} statement wins ({how})",
            old.id,
            c.content,
        )
    return WriteDecision(
        c,
        "overruled",
        f"contradicts #{old.id}, which is better supported ({old.source}); "
        f"kept superseded for the audit ({how})",
        old.id,
        c.content,
    )


def _guarded(decision: WriteDecision, target: MemoryEntry, said_by: Attribution) -> WriteDecision:
    """`decision`, unless it would change `target` (supersede or reinforce it) and provenance
    says these words may not (governance.provenance.may_change): then a rejection saying why.
    An overruled candidate leaves the target as it is, so it stands."""
    if decision.action in ("supersede", "reinforce") and not may_change(said_by, target):
        return WriteDecision(
            decision.candidate,
            "reject",
            f"provenance: would change #{target.id}, the user's own word, which this turn's user "
            "words did not ask to change",
        )
    return decision


def _apply_verdicts(pair: SimilarPair, verdicts: list[PairVerdict], judged: bool) -> WriteDecision:
    by_id = {m.id: m for m in pair.similar}
    for v in verdicts:
        if v.candidate == pair.index and v.relation != "unrelated" and v.memory_id in by_id:
            return _resolve(pair.candidate, by_id[v.memory_id], v.relation, v.merged, "compared")
    reason = "new (compared with similar memories)" if judged else "new (not compared: no model)"
    return WriteDecision(pair.candidate, "write", reason, content=pair.candidate.content)


def _withheld(text: str, secrets: set[str], why_not: str | None) -> str:
    """What a rejection keeps of a candidate's words (in the turn, the audit): nothing at all when
    it was refused as sensitive (its secret may only show with the rest of the conversation),
    else the words scrubbed."""
    if why_not is not None and why_not.startswith("sensitive"):
        return "[withheld: sensitive]"
    return _scrub(text, secrets)


def _scrub(text: str, secrets: set[str]) -> str:
    """`text` redacted by pattern and with every known secret value masked."""
    text = redact(text)
    for value in secrets:
        text = text.replace(value, "[REDACTED]")
    return text
