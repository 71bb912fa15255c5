"""What a turn tells its caller while it runs: `Session.stream` / `Session.astream` yield these.

In order: `TextDelta`s as the answer is generated (interleaved with `ToolCallStarted` /
`ApprovalNeeded` / `ToolCallFinished` when the model calls tools, and `SkillStep` when a skill is
walked), then `MemoryQueued` (the turn's memory work is stored, to be applied after the answer),
then `TurnFinished` with the whole `Turn`. `MemoryApplied` follows only when the caller asked to
wait for memory (`stream(text, wait_memory=True)`); otherwise `turn.memory_ops` waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from framework.outcome import ToolCallRecord

# The approval request (framework.gate.ApprovalRequest), the memory operations
# (framework.memory.operations.MemoryOp) and the Turn (framework.turn.Turn) are typed Any here:
# this module sits below the layers that yield events (the llm drivers, the steps), and naming
# those types would make it import upwards.


@dataclass(frozen=True)
class TextDelta:
    """The next piece of the answer's text, as the model produced it."""

    text: str


@dataclass(frozen=True)
class ToolCallStarted:
    """The model asked for a tool; the gate has not decided yet."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ApprovalNeeded:
    """A policy wants a human's yes for this call; the agent's approver is asked next."""

    request: Any  # framework.gate.ApprovalRequest


@dataclass(frozen=True)
class ToolCallFinished:
    """The call as it ended: the gate's verdict (`record.verdict`), whether it ran and its result."""

    record: ToolCallRecord


@dataclass(frozen=True)
class SkillStep:
    """A skill's step is about to be walked."""

    skill: str  # name@version
    number: int
    total: int
    instruction: str


@dataclass(frozen=True)
class MemoryQueued:
    """The turn's memory work is durably queued (None: there was nothing to queue)."""

    job_id: int | None


@dataclass(frozen=True)
class MemoryApplied:
    """The turn's memory work ran: what it wrote, updated, superseded or forgot."""

    ops: list[Any]  # framework.memory.operations.MemoryOp
    error: str | None = None


@dataclass(frozen=True)
class TurnFinished:
    """The answer is complete; `turn` is the full record (memory may still be applying)."""

    turn: Any  # framework.turn.Turn


Event = (
    TextDelta
    | ToolCallStarted
    | ApprovalNeeded
    | ToolCallFinished
    | SkillStep
    | MemoryQueued
    | MemoryApplied
    | TurnFinished
)

__all__ = [
    "ApprovalNeeded",
    "Event",
    "MemoryApplied",
    "MemoryQueued",
    "SkillStep",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "TurnFinished",
]
