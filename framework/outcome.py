"""What a turn did and how it went: the records both the loop and memory read.

`ToolCallRecord` (step 4: one gated call and its result), `Outcome` (step 5's judgment) and
`Exchange` (the turn as memory learns from it: what the user said, what was answered, done and
judged). They sit below the loop and memory, so memory can learn from a turn without knowing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal


@dataclass
class ToolCallRecord:
    name: str
    arguments: dict[str, Any]
    verdict: str  # allow | warn | deny | approve (then approved/refused) | error
    gate_reasons: list[str]
    policies: list[str]
    approved: bool | None = None
    ok: bool = False
    result: str = ""  # what the model is shown
    effects: list[str] = field(default_factory=list)  # what the gate found the call does
    origin: str | None = None  # where its result comes from, for provenance ("tool:mcp/<server>/<tool>")
    value: Any = field(default=None, repr=False, compare=False)  # the tool's own return value


@dataclass
class Outcome:
    """Step 5's judgment of the turn."""

    status: Literal["success", "failure", "partial", "none"]  # none: nothing was attempted
    summary: str
    failures: list[str] = field(default_factory=list)
    judged_by: str = "rules"  # rules | model


@dataclass(frozen=True)
class Exchange:
    """One turn as memory operations see it."""

    user_input: str
    answer: str
    tool_calls: list[ToolCallRecord]
    outcome: Outcome
    forget_asked: bool = False  # the user's own words asked to forget something (step 1 said so)
    # When the words were said (event time; None: now). What the turn teaches is written as of
    # then: an imported conversation's memories carry the day they were said, not the import's.
    said_at: datetime | None = None
