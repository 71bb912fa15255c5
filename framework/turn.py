"""The record of one turn: what the runtime understood, recalled, sent, did, judged and wrote.

Every step of the loop returns one of these small dataclasses; `Turn` gathers them, so a test or
`framework chat` can show exactly what happened and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from framework.llm.messages import Message, Usage
from framework.memory.procedural import Policy, Skill
from framework.memory.recall import Recalled
from framework.memory.records import MemoryEntry
from framework.memory.working import WorkingState


@dataclass
class Recollection:
    """Step 2's result: everything memory contributes to this turn, and why."""

    preferences: list[MemoryEntry]  # structured: all active, complete
    constraints: list[MemoryEntry]  # structured: all active, complete
    relevant: list[Recalled]  # hybrid search over facts and outcomes, ranked, explained
    skills: list[Skill]
    policies: list[Policy]
    state: WorkingState
    dropped: dict[int, str] = field(default_factory=dict)
    candidates: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    embed_ms: float = 0.0

    def memory_ids(self) -> list[int]:
        ids = [m.id for m in self.preferences + self.constraints] + [r.memory.id for r in self.relevant]
        return [i for i in ids if i is not None]

    def explain(self) -> list[str]:
        """One line per memory used, saying why it was chosen; then what was dropped."""
        lines = [
            f"#{m.id} {m.memory_type} (all active {m.memory_type}s are always included): {m.content}"
            for m in self.constraints + self.preferences
        ]
        for r in self.relevant:
            signals = ", ".join(f"{k}={v:.2f}" for k, v in r.signals.items())
            lines.append(
                f"#{r.memory.id} {r.memory.memory_type} score={r.score:.2f} via {r.via} "
                f"[{signals}]: {r.memory.content}"
            )
        lines += [f"dropped #{mid}: {why}" for mid, why in self.dropped.items()]
        lines += [f"warning: {w}" for w in self.warnings]
        return lines


@dataclass
class ToolCallRecord:
    name: str
    arguments: dict[str, Any]
    verdict: str  # allow | warn | deny | approve (then approved/refused) | error
    gate_reasons: list[str]
    policies: list[str]
    approved: bool | None = None
    ok: bool = False
    result: str = ""


@dataclass
class Outcome:
    """Step 5's judgment of the turn."""

    status: Literal["success", "failure", "partial", "none"]  # none: nothing was attempted
    summary: str
    failures: list[str] = field(default_factory=list)
    judged_by: str = "rules"  # rules | model


@dataclass
class MemoryOp:
    kind: Literal["write", "supersede", "reinforce", "forget", "reject", "adjust", "pending"]
    memory_id: int | None
    content: str  # redacted for rejections
    reason: str


@dataclass
class Turn:
    user_id: str | None
    session_id: str
    user_input: str
    intent: Any = None  # framework.steps.intent.Intent
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
    skill: Any = None  # framework.steps.skill.SkillRun, when a skill was walked
    timings_ms: dict[str, float] = field(default_factory=dict)

    def ops(self, kind: str) -> list[MemoryOp]:
        return [op for op in self.memory_ops if op.kind == kind]
