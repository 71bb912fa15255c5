"""When a policy wants a human: what they are asked, and what counts as a yes.

An approval is explicit: the approver returns `True`, or an `Approval` for exactly this tool and
these arguments. Anything else — "no", "yes", 1, None, an exception, an Approval for another call
— is a refusal. An `Approval` is single-use: once it has let one call through it grants nothing
more, so an approver cannot hand out a standing permission by returning the same object again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApprovalRequest:
    """What a human is asked to approve: the call and the policies that want approval."""

    tool: str
    arguments: dict[str, Any]
    reasons: list[str]
    user_id: str | None
    session_id: str


@dataclass
class Approval:
    """A human's yes to one call: this tool with these arguments, once."""

    tool: str
    arguments: dict[str, Any]
    by: str = "human"
    _used: bool = field(default=False, repr=False, compare=False)

    def consume(self, request: ApprovalRequest) -> bool:
        """True once, if this approval is for exactly `request`'s call."""
        if self._used or self.tool != request.tool or self.arguments != request.arguments:
            return False
        self._used = True
        return True


Approver = Callable[[ApprovalRequest], "Approval | bool"]


def ask(approve: Approver | None, request: ApprovalRequest) -> bool:
    """The approver's answer, read strictly: only `True` or a matching, unused Approval is a yes.
    No approver, or one that raises, is a no."""
    if approve is None:
        return False
    try:
        answer = approve(request)
    except Exception:  # an approver that breaks has not approved anything
        return False
    if answer is True:
        return True
    return isinstance(answer, Approval) and answer.consume(request)
