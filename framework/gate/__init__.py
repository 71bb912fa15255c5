"""The policy gate: every tool call is checked here before it can run (`PolicyGate.check`)."""

from framework.gate.approval import Approval, ApprovalRequest, Approver, ask
from framework.gate.policy_gate import GateDecision, PolicyGate, PolicySource, ToolHistory, Verdict

__all__ = [
    "Approval",
    "ApprovalRequest",
    "Approver",
    "GateDecision",
    "PolicyGate",
    "PolicySource",
    "ToolHistory",
    "Verdict",
    "ask",
]
