"""The policy gate: every tool call is checked here before it can run.

Deterministic: the decision depends only on the call, the policies and what already happened in
this session (its tool history). Verdicts: allow, warn (soft policy broken: run, but say so),
deny (hard policy broken: the model is told why), approve (a human must say yes first).

It judges meaning, not spelling: a policy can name arguments to parse as shell or SQL
(`applies_to.parse`), and what the parsed command does — delete files, wipe a disk, drop a table —
becomes an effect of the call, beside the effects the tool declares (`@tool(effects=...)`); a
policy can apply to calls with given effects (`applies_to.effects`). An argument that a policy
asks to parse and that cannot be parsed has the effect `unparseable`, which every effects rule
applies to: what cannot be understood under a rule that guards it is not let through.
Each decision names the policies that spoke as "name@version", and the files they came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from framework.gate.effects import CallEffects, effects_of
from framework.memory.procedural import Policy, Procedures
from framework.memory.procedural.patterns import arguments_match
from framework.memory.procedural.schema import Requirement

Verdict = Literal["allow", "warn", "deny", "approve"]


@dataclass
class GateDecision:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)  # "name@version" of each policy that spoke
    sources: list[str] = field(default_factory=list)  # the file of each of those ("" if built in code)
    effects: list[str] = field(default_factory=list)  # what the call does, as far as the gate knows

    @property
    def message(self) -> str:
        return " ".join(self.reasons)


class PastCall(Protocol):
    """One earlier call of the session (e.g. working memory's ToolRecord)."""

    @property
    def name(self) -> str: ...

    @property
    def arguments(self) -> dict[str, Any]: ...

    @property
    def ok(self) -> bool: ...


class ToolHistory(Protocol):
    """What already happened in the session, oldest first: e.g. its WorkingState."""

    @property
    def tool_history(self) -> Sequence[PastCall]: ...


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

    def applicable(
        self, tool: str, arguments: dict[str, Any], declared: frozenset[str] = frozenset()
    ) -> list[tuple[Policy, CallEffects]]:
        """The policies that apply to this call, each with what the call does as that policy
        reads it (its declared effects, plus what parsing the arguments it names found)."""
        found = []
        for p in self.policies:
            if p.deprecated or not p.governs(tool):
                continue
            if not arguments_match(p.applies_to.arguments, arguments):
                continue
            if any(arguments_match(e.arguments, arguments) for e in p.exceptions):
                continue
            effects = effects_of(arguments, p.applies_to.parse, declared)
            if p.applies_to.effects and not effects.touches(p.applies_to.effects):
                continue
            found.append((p, effects))
        return found

    def check(
        self,
        tool: str,
        arguments: dict[str, Any],
        history: ToolHistory,
        declared: frozenset[str] = frozenset(),
    ) -> GateDecision:
        deny: list[str] = []
        warn: list[str] = []
        approve: list[str] = []
        spoke: list[Policy] = []  # every policy that applied, so the audit names its version
        seen: set[str] = set(declared)
        for policy, effects in self.applicable(tool, arguments, declared):
            seen |= effects.names
            missing = [
                _described(r) for r in policy.requires if not _satisfied(r, policy, arguments, history)
            ]
            violated = policy.forbid or bool(missing)
            found = effects.explain(policy.applies_to.effects)
            if violated:
                why = policy.message or policy.description or f"policy {policy.name}"
                if missing:
                    why += f" (not yet succeeded in this session: {', '.join(missing)})"
                (deny if policy.enforcement == "hard" else warn).append(f"[{policy.name}] {why}{found}")
            elif policy.approval:
                approve.append(f"[{policy.name}] {policy.message or 'needs human approval'}{found}")
            spoke.append(policy)  # applied and satisfied is a decision too: "allow"
        labels = [p.label for p in spoke]
        files = [str(p.source or "") for p in spoke]
        effects_seen = sorted(seen)
        if deny:
            return GateDecision("deny", deny + warn, labels, files, effects_seen)
        if approve:
            return GateDecision("approve", approve + warn, labels, files, effects_seen)
        if warn:
            return GateDecision("warn", warn, labels, files, effects_seen)
        return GateDecision("allow", [], labels, files, effects_seen)


def _satisfied(req: Requirement, policy: Policy, arguments: dict[str, Any], history: ToolHistory) -> bool:
    """Whether the session's history holds what `req` asks for this call: a successful call of
    `req.tool` with the same values for `req.same`, after the anchor `req.after` names, and — with
    `req.latest` — no failure of it since."""
    calls = list(history.tool_history)
    start = 0
    if req.after is not None:
        anchor = next((r for r in policy.requires if r.tool == req.after), Requirement(tool=req.after))
        matching = [i for i, c in enumerate(calls) if c.ok and _same(anchor, c, arguments)]
        if not matching:
            return False
        start = matching[-1] + 1
    relevant = [c for c in calls[start:] if _same(req, c, arguments)]
    if not relevant:
        return False
    return relevant[-1].ok if req.latest else any(c.ok for c in relevant)


def _described(req: Requirement) -> str:
    """A requirement as the model is told it is missing: "deploy_to_staging (same version)",
    "run_smoke_tests (environment staging; latest run passing)"."""
    parts = [f"same {', '.join(req.same)}"] if req.same else []
    parts += [f"{name} {pattern.strip('^$')}" for name, pattern in req.arguments.items()]
    parts += ["latest run passing"] if req.latest else []
    return req.tool + (f" ({'; '.join(parts)})" if parts else "")


def _same(req: Requirement, call: PastCall, arguments: dict[str, Any]) -> bool:
    """`call` is a call of the required tool, with this call's values where `req.same` says and
    arguments matching `req.arguments`."""
    return (
        call.name == req.tool
        and all(
            name in arguments and str(call.arguments.get(name)) == str(arguments[name]) for name in req.same
        )
        and arguments_match(req.arguments, call.arguments)
    )
