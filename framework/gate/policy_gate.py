"""The policy gate: every tool call is checked here before it can run.

Deterministic: the decision depends only on the call, the policies and what already happened in
this session (its working state). Verdicts: allow, warn (soft policy broken: run, but say so),
deny (hard policy broken: the model is told why), approve (a human must say yes first).
Each decision names the policies that spoke as "name@version", and the files they came from, so
an audit can tell which version of which rule decided.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from framework.memory.procedural import Policy, Procedures

Verdict = Literal["allow", "warn", "deny", "approve"]


@dataclass
class GateDecision:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)  # "name@version" of each policy that spoke
    sources: list[str] = field(default_factory=list)  # the file of each of those ("" if built in code)

    @property
    def message(self) -> str:
        return " ".join(self.reasons)


def _matches(patterns: dict[str, str], arguments: dict[str, Any]) -> bool:
    return all(
        name in arguments and re.search(pattern, str(arguments[name]), re.IGNORECASE)
        for name, pattern in patterns.items()
    )


class ToolHistory(Protocol):
    """What already happened in the session: e.g. its WorkingState."""

    def succeeded(self, tool: str) -> bool: ...


class PolicySource(Protocol):
    """Anything that has the policies in force now, e.g. a hot-reloading ProceduralMemory."""

    def current(self) -> Procedures: ...


class PolicyGate:
    """Checks tool calls against fixed policies, or against a source's current ones (so an edited
    policy file applies from the next call, with no restart)."""

    def __init__(self, policies: Sequence[Policy] | PolicySource) -> None:
        self._source: PolicySource | None = None
        self._fixed: list[Policy] = []
        if isinstance(policies, Sequence):
            self._fixed = list(policies)
        else:
            self._source = policies

    @property
    def policies(self) -> list[Policy]:
        return self._source.current().policies if self._source is not None else self._fixed

    def applicable(self, tool: str, arguments: dict[str, Any]) -> list[Policy]:
        return [
            p
            for p in self.policies
            if not p.deprecated
            and p.governs(tool)
            and _matches(p.applies_to.arguments, arguments)
            and not any(_matches(e.arguments, arguments) for e in p.exceptions)
        ]

    def check(self, tool: str, arguments: dict[str, Any], history: ToolHistory) -> GateDecision:
        deny: list[str] = []
        warn: list[str] = []
        approve: list[str] = []
        spoke: list[Policy] = []  # every policy that applied, so the audit names its version
        for policy in self.applicable(tool, arguments):
            missing = [r.tool for r in policy.requires if not history.succeeded(r.tool)]
            violated = policy.forbid or bool(missing)
            if violated:
                why = policy.message or policy.description or f"policy {policy.name}"
                if missing:
                    why += f" (not yet succeeded in this session: {', '.join(missing)})"
                (deny if policy.enforcement == "hard" else warn).append(f"[{policy.name}] {why}")
                spoke.append(policy)
            elif policy.approval:
                approve.append(f"[{policy.name}] {policy.message or 'needs human approval'}")
                spoke.append(policy)
            else:  # applied and satisfied (e.g. staging and smoke tests done): it decided "allow"
                spoke.append(policy)
        labels = [p.label for p in spoke]
        files = [str(p.source or "") for p in spoke]
        if deny:
            return GateDecision("deny", deny + warn, labels, files)
        if approve:
            return GateDecision("approve", approve + warn, labels, files)
        if warn:
            return GateDecision("warn", warn, labels, files)
        return GateDecision("allow", [], labels, files)
