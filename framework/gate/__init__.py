"""The policy gate: every tool call is checked here before it can run (`PolicyGate.check`)."""

from framework.gate.approval import ApprovalRequest, Approver
from framework.gate.policy_gate import GateDecision, PolicyGate, PolicySource, ToolHistory, Verdict

__all__ = [
    "ApprovalRequest",
    "Approver",
    "GateDecision",
    "PolicyGate",
    "PolicySource",
    "ToolHistory",
    "Verdict",
]
