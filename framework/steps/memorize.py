"""Step 6: after the outcome, extract what is worth remembering and compare it with what is
stored. At most one extraction call per turn, and only when the turn has something to keep
(the user stated, corrected or retracted something, or the outcome failed); the comparison call
happens only when candidates resemble memories the extraction was not shown."""

from __future__ import annotations

from framework.llm.base import Model
from framework.llm.messages import Message, Usage
from framework.memory.candidates import Comparison, Extraction, MemoryCandidate
from framework.memory.curation import Judge, SimilarPair
from framework.memory.manager import MemoryManager
from framework.memory.records import MemoryEntry, MemorySource, MemoryType
from framework.sensitive import redact, sensitive_values
from framework.memory.working import WorkingState
from framework.prompts import render
from framework.steps.intent import Intent
from framework.turn import MemoryOp, Outcome, Recollection, ToolCallRecord, Turn


def worth_extracting(intent: Intent, outcome: Outcome) -> bool:
    if intent.trivial:
        return False
    return intent.remember or intent.forget or intent.correction or outcome.status in ("failure", "partial")


def memorize(
    model: Model,
    memory: MemoryManager,
    user_id: str | None,
    state: WorkingState,
    recalled: Recollection,
    turn: Turn,
) -> list[MemoryOp]:
    """Extract (one call), add what a judged failure taught, then let the memory manager curate
    and write; the comparison call is made by the curator only if it needs one."""
    assert turn.outcome is not None
    known = memory.visible(user_id, recalled)
    extraction = extract(
        model, turn.user_input, turn.answer, turn.tool_calls, turn.outcome, known, turn.memory_usage
    )
    if turn.outcome.judged_by == "model" and turn.outcome.status == "failure":
        extraction.memories += [
            MemoryCandidate(
                content=lesson, memory_type=MemoryType.outcome, confidence=0.8, source=MemorySource.learned
            )
            for lesson in turn.outcome.failures
        ]
    # Secret values seen this turn: a candidate restating one in other words is rejected too.
    secrets = sensitive_values(turn.user_input)
    for call in turn.tool_calls:
        secrets |= sensitive_values(call.result)
    visible = {m.id for m in known if m.id is not None}
    return memory.apply(
        user_id, state, extraction, visible, secrets=secrets, judge=comparer(model, turn.memory_usage)
    )


def extract(
    model: Model,
    user_input: str,
    answer: str,
    tool_calls: list[ToolCallRecord],
    outcome: Outcome,
    known: list[MemoryEntry],
    usage: Usage,
) -> Extraction:
    prompt = render(
        "extract",
        known=known,
        user_input=redact(user_input),
        answer=redact(answer),
        tool_calls=tool_calls,
        outcome=outcome,
    )
    out = model.structured([Message("user", prompt)], Extraction)
    usage.add(out.usage)
    return out.value


def comparer(model: Model, usage: Usage) -> Judge:
    """The judge the curator calls (at most once a turn) for candidate/memory pairs."""

    def judge(pairs: list[SimilarPair]) -> Comparison:
        out = model.structured([Message("user", render("compare", pairs=pairs))], Comparison)
        usage.add(out.usage)
        return out.value

    return judge
