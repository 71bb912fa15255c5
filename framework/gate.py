"""The policy gate: every tool call is checked here before it can run.

Deterministic: the decision depends only on the call, the policies and what already happened in
this session (its working state). Verdicts: allow, warn (soft policy broken: run, but say so),
deny (hard policy broken: the model is told why), approve (a human must say yes first).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from framework.memory.procedural import Policy
from framework.memory.working import WorkingState

Verdict = Literal["allow", "warn", "deny", "approve"]


@dataclass
class GateDecision:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)  # "name@version" of each policy that spoke

    @property
    def message(self) -> str:
        return " ".join(self.reasons)


def _matches(patterns: dict[str, str], arguments: dict[str, Any]) -> bool:
    return all(
        name in arguments and re.search(pattern, str(arguments[name]), re.IGNORECASE)
        for name, pattern in patterns.items()
    )


class PolicyGate:
    def __init__(self, policies: list[Policy]) -> None:
        self.policies = policies

    def applicable(self, tool: str, arguments: dict[str, Any]) -> list[Policy]:
        return [
            p
            for p in self.policies
            if any(fnmatch.fnmatchcase(tool, pat) for pat in p.applies_to.tools)
            and _matches(p.applies_to.arguments, arguments)
            and not any(_matches(e.arguments, arguments) for e in p.exceptions)
        ]

    def check(self, tool: str, arguments: dict[str, Any], state: WorkingState) -> GateDecision:
        deny: list[str] = []
        warn: list[str] = []
        approve: list[str] = []
        spoke: list[str] = []
        for policy in self.applicable(tool, arguments):
            missing = [r.tool for r in policy.requires if not state.succeeded(r.tool)]
            violated = policy.forbid or bool(missing)
            label = f"{policy.name}@{policy.version}"
            if violated:
                why = policy.message or policy.description or f"policy {policy.name}"
                if missing:
                    why += f" (not yet succeeded in this session: {', '.join(missing)})"
                (deny if policy.enforcement == "hard" else warn).append(f"[{policy.name}] {why}")
                spoke.append(label)
            elif policy.approval:
                approve.append(f"[{policy.name}] {policy.message or 'needs human approval'}")
                spoke.append(label)
        if deny:
            return GateDecision("deny", deny + warn, spoke)
        if approve:
            return GateDecision("approve", approve + warn, spoke)
        if warn:
            return GateDecision("warn", warn, spoke)
        return GateDecision("allow", [], spoke)
