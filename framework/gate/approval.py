"""When a policy wants a human: what they are asked, and who answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class ApprovalRequest:
    """What a human is asked to approve: the call and the policies that want approval."""

    tool: str
    arguments: dict[str, Any]
    reasons: list[str]
    user_id: str | None
    session_id: str


Approver = Callable[[ApprovalRequest], bool]
