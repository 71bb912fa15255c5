"""What a tool call does, as the gate can know it: the effects its tool declares
(`@tool(effects={"deletes_files"})`), and what the commands in its arguments do once parsed
(framework.gate.commands: shell with bashlex, SQL with sqlglot)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import re2 as re

UNPARSEABLE = "unparseable"
# A statement's first word: text in a shell argument that starts like SQL is judged as SQL too.
_SQL_START = re.compile(
    r"(?i)\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)*"
    r"(?:select|insert|update|delete|drop|truncate|alter|create|replace|merge|with|grant|revoke)\b"
)


@dataclass(frozen=True)
class CallEffects:
    names: frozenset[str] = frozenset()
    why: dict[str, str] = field(default_factory=dict)  # effect -> what showed it (for the reason)

    def touches(self, wanted: Iterable[str]) -> bool:
        """Whether a rule about `wanted` effects applies: one of them is here, or an argument it
        guards could not be parsed (fail closed)."""
        return UNPARSEABLE in self.names or bool(self.names & set(wanted))

    def explain(self, wanted: Iterable[str]) -> str:
        """ " (found: ...)" naming the effects a rule matched on, for its reason."""
        hits = sorted(n for n in self.names if n in set(wanted) or n == UNPARSEABLE)
        if not hits:
            return ""
        return " (found: " + "; ".join(f"{n}: {self.why.get(n, 'declared by the tool')}" for n in hits) + ")"


def effects_of(
    arguments: Mapping[str, Any], parse: Mapping[str, str], declared: frozenset[str]
) -> CallEffects:
    """Declared effects plus those of every argument the policy asks to parse (a tool without that
    argument has nothing to parse). A non-text value there is unparseable: a rule that guards it
    does not pass it."""
    names = set(declared)
    why: dict[str, str] = {}
    for argument, language in parse.items():
        if argument not in arguments:
            continue
        # the parsers (bashlex, sqlglot) load only when there is text to parse
        from framework.gate.commands import classify_shell, classify_sql

        value = arguments[argument]
        if not isinstance(value, str):
            names.add(UNPARSEABLE)
            why.setdefault(UNPARSEABLE, f"argument {argument!r} is not text")
            continue
        report = classify_shell(value) if language == "shell" else classify_sql(value)
        if language == "shell" and not report.findings and _SQL_START.match(value):
            report = classify_sql(value)  # SQL handed to a shell tool is read as the SQL it is
        if report.unparseable is not None:
            names.add(UNPARSEABLE)
            why.setdefault(UNPARSEABLE, f"argument {argument!r}: {report.unparseable}")
        for finding in report.findings:
            names.add(finding.kind)
            why.setdefault(finding.kind, finding.reason)
    return CallEffects(frozenset(names), why)
