"""Step 6: after the outcome, extract what is worth remembering (one structured call)."""

from __future__ import annotations

from framework.llm.base import Model
from framework.llm.messages import Message, Usage
from framework.memory.candidates import Extraction
from framework.memory.records import MemoryEntry
from framework.memory.sensitive import redact
from framework.prompts import render
from framework.turn import Outcome, ToolCallRecord


def extract(
    model: Model,
    user_input: str,
    answer: str,
    tool_calls: list[ToolCallRecord],
    outcome: Outcome,
    known: list[MemoryEntry],
) -> tuple[Extraction, Usage]:
    prompt = render(
        "extract",
        known=known,
        user_input=redact(user_input),
        answer=redact(answer),
        tool_calls=tool_calls,
        outcome=outcome,
    )
    out = model.structured([Message("user", prompt)], Extraction)
    return out.value, out.usage
