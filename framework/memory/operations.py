"""What memory did in a turn: each write, supersede, reinforce, forget, rejection, confidence
adjustment or write parked for approval, with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class MemoryOp:
    kind: Literal["write", "supersede", "reinforce", "forget", "reject", "adjust", "pending"]
    memory_id: int | None
    content: str  # redacted for rejections
    reason: str
