"""The policy gate: every tool call is checked here before it can run (`PolicyGate.check`)."""

from framework.gate.policy_gate import GateDecision, PolicyGate, Verdict

__all__ = ["GateDecision", "PolicyGate", "Verdict"]
