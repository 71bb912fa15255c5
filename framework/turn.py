"""The record of one turn: what the runtime understood, recalled, sent, did, judged and wrote.

Every step of the loop returns a small dataclass; `Turn` gathers them, so a test or
`framework chat` can show exactly what happened and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from framework.llm.messages import Message, Usage
from framework.memory.operations import MemoryOp
from framework.memory.recollection import Recollection
from framework.outcome import Exchange, Outcome, ToolCallRecord
from framework.steps.intent import Intent
from framework.steps.skill import SkillRun


@dataclass
class Turn:
    user_id: str | None
    session_id: str
    user_input: str
    intent: Intent | None = None
    recollection: Recollection | None = None
    messages: list[Message] = field(default_factory=list)  # the last prompt sent to the model
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    answer: str = ""
    outcome: Outcome | None = None
    memory_ops: list[MemoryOp] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)  # every LLM call of the turn
    memory_usage: Usage = field(default_factory=Usage)  # the memory operations' share of it
    error: str | None = None
    warnings: list[str] = field(default_factory=list)  # what went wrong without failing the turn
    skill: SkillRun | None = None  # when a skill was walked
    timings_ms: dict[str, float] = field(default_factory=dict)

    def ops(self, kind: str) -> list[MemoryOp]:
        return [op for op in self.memory_ops if op.kind == kind]

    def exchange(self) -> Exchange:
        """The turn as memory learns from it (after step 5)."""
        assert self.outcome is not None, "the outcome is judged before memory learns from a turn"
        asked = bool(self.intent and (self.intent.forget or self.intent.correction))
        return Exchange(self.user_input, self.answer, list(self.tool_calls), self.outcome, asked)

    def fail(self, message: str) -> None:
        """Record a failure that did not stop the turn (several are joined)."""
        self.error = f"{self.error}; {message}" if self.error else message
