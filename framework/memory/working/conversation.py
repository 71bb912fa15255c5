"""Conversation lines as working memory keeps them: redacted, even when a secret only shows itself
across turns.

A line is redacted on its own (framework.sensitive.redact) and read after the user's last few
lines (find_sensitive_in_context): a password typed over two turns ("my password is hunt" /
"er2x"), or said bare and named in the next turn ("hunter2x" / "that's my password"), is found
then. What is found is masked in the new line, and also in the earlier lines that held its pieces
(they were stored before anyone could know); its values are remembered as keyed hashes
(working.secret_marks) so a later turn that repeats them is recognised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from framework.sensitive import Finding, find_sensitive_in_context, redact, sensitive_values

CONTEXT_LINES = 4  # the user's lines a new line is read after
# A line stored ending on a redaction and at most a connector ("my fingerprint template id is" is
# kept as "[REDACTED:biometric] is", "I'm in recovery from" as "I'm [REDACTED:health] from") left
# its value for the next line to give.
_OPEN_END = re.compile(r"\[REDACTED:([a-z_]+)\](?:\s+[A-Za-z]{1,5})?\s*[:=-]?\s*$")
_EDGES = "'\"`.,;:!?()[]{}<>"


def awaited_kind(earlier: Sequence[str]) -> str | None:
    """The kind of value the last earlier line left open (see _OPEN_END), if any."""
    match = _OPEN_END.search(earlier[-1][-80:]) if earlier else None
    return match.group(1) if match else None


def leading_value(text: str) -> str | None:
    """The first word of `text`, as the value an open line before it was waiting for."""
    words = text.split(None, 1)
    value = words[0].strip(_EDGES) if words else ""
    return value if len(value) >= 3 else None


def redact_line(text: str, earlier: Sequence[str]) -> tuple[str, set[str], list[Finding]]:
    """`text` redacted, read after `earlier`; the secret values it showed, and the findings."""
    found = find_sensitive_in_context(text, list(earlier)) if earlier else []
    values = sensitive_values(text) | {f.value for f in found if f.value}
    awaited, first = awaited_kind(earlier), leading_value(text)
    if awaited and first:
        at = text.index(first)
        found.append(Finding(awaited, at, at + len(first), value=first))
        values.add(first)
    return redact(_masked_spans(text, found)), values, found


def mask(text: str, values: Iterable[str]) -> str:
    """`text` with each of `values` masked, and a tail that starts one of them (the first piece of
    a value typed over two turns)."""
    for value in sorted({v for v in values if len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, "[REDACTED]")
        stripped = text.rstrip()
        for k in range(len(value) - 1, 2, -1):
            if stripped.endswith(value[:k]):
                text = stripped[:-k] + "[REDACTED]"
                break
    return text


def _masked_spans(text: str, found: list[Finding]) -> str:
    out, pos = [], 0
    for f in sorted(found, key=lambda f: f.start):
        if f.start < pos:
            pos = max(pos, f.end)
            continue
        out += [text[pos : f.start], f"[REDACTED:{f.kind}]"]
        pos = f.end
    return "".join(out) + text[pos:]
