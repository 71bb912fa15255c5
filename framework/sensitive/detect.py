"""Detection and redaction of secrets and personal data.

Anything the runtime persists that came from a user or a tool (working state, audit details,
logs) goes through `redact` first, and a memory candidate with any finding is rejected by the
write policy. Card numbers are confirmed with the Luhn checksum so ordinary numbers pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "password is X", "the password for the staging db is X", "my password's X", "pwd: X".
_PASSWORD = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:password|passwd|pwd|passphrase|passcode)"
    r"(?:\s+for\s+[\w .-]{1,40}?)?(?:'s|\s+(?:is|was)|\s*[:=])\s*['\"]?(\S{3,})"
)
# Words that follow "password is" in ordinary sentences ("the password is wrong"): no value.
_NOT_A_VALUE = frozenset(
    """the a an not set required valid invalid expired wrong incorrect correct changed reset same
    different too very being missing stored saved kept in on at secure weak strong long short""".split()
)
# Weaker keywords ("the secret is out", "the token is valid") need a value that looks like one:
# a digit or symbol in it, or a long run of letters.
_KEYWORD_VALUE = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:secret|token|api[ _-]?key|access[ _-]?key|pin)"
    r"(?:\s+(?:is|was)|\s*[:=])\s*['\"]?"
    r"((?=[^\s'\"]*[\d_/+=!@#$%^&*-])[^\s'\"]{4,}|[A-Za-z]{20,})"
)
# Configuration assignments: DB_PASSWORD=..., aws_secret_access_key = ..., GITHUB_TOKEN: ...
_ASSIGNMENT = re.compile(
    r"(?i)(?<![A-Za-z0-9])[A-Za-z0-9_]*(?:password|passwd|secret|token|api_?key|access_?key)"
    r"[A-Za-z0-9_]*\s*[:=]\s*['\"]?([^\s'\"]{4,})"
)
_VALUE_PATTERNS = (_PASSWORD, _KEYWORD_VALUE, _ASSIGNMENT)

# (kind, pattern). Order matters only for the label a finding gets.
_FINDERS: list[tuple[str, re.Pattern[str]]] = [
    (
        "private_key",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
            r"(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|$)"
        ),
    ),
    ("api_key", re.compile(r"\b(?:sk|pk|rk)-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_\-]{16,}")),
    ("api_key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("api_key", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    ("api_key", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}\b")),
    ("api_key", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    ("api_key", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}")),
    ("api_key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("api_key", re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}\b")),
    ("api_key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b")),
    ("token", re.compile(r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}")),
    ("token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-\.=]{16,}")),
    ("password", _PASSWORD),
    ("secret", _KEYWORD_VALUE),
    ("secret", _ASSIGNMENT),
    ("ssn", re.compile(r"\b(?!000|666|9\d\d)\d{3}[- ](?!00)\d{2}[- ](?!0000)\d{4}\b")),
    ("ssn", re.compile(r"(?i)\b(?:ssn|social security (?:no\.?|number))\D{0,5}\d{9}\b")),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")),
]
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_PHONE = re.compile(r"(?<![\w(])(?:\+?\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]\d{4}\b")


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def find_sensitive(text: str, *, emails: bool = False, phones: bool = False) -> list[Finding]:
    """Every secret or piece of personal data found in `text`."""
    found: list[Finding] = []
    for kind, pattern in _FINDERS:
        for m in pattern.finditer(text):
            if kind == "iban" and not _iban_ok(m.group(0)):
                continue
            if pattern is _PASSWORD and m.group(1).lower().strip(".,;:!?") in _NOT_A_VALUE:
                continue
            found.append(Finding(kind, m.start(), m.end()))
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            found.append(Finding("card_number", m.start(), m.end()))
    if emails:
        found += [Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    if phones:
        found += [Finding("phone", m.start(), m.end()) for m in _PHONE.finditer(text)]
    return found


def sensitive_values(text: str, *, emails: bool = False, phones: bool = False) -> set[str]:
    """The secret values themselves (a password without its "password is", a card's digits), so
    that a memory restating one in other words can be recognised."""
    values: set[str] = set()
    for f in find_sensitive(text, emails=emails, phones=phones):
        found = text[f.start : f.end]
        if f.kind in ("password", "secret"):  # the value alone, without its keyword
            match = next(filter(None, (p.search(found) for p in _VALUE_PATTERNS)), None)
            found = match.group(1) if match else found
        values.add(found.strip("'\".,;"))
        digits = re.sub(r"\D", "", found)
        if f.kind in ("card_number", "ssn", "iban") and digits:
            values.add(digits)
    return {v for v in values if len(v) >= 4}


def repeats_secret(text: str, secrets: set[str]) -> bool:
    digits = re.sub(r"\D", "", text)
    return any(s in text or (s.isdigit() and s in digits) for s in secrets)


def redact(text: str, *, emails: bool = False, phones: bool = False) -> str:
    """`text` with every finding replaced by [REDACTED:kind]."""
    findings = sorted(find_sensitive(text, emails=emails, phones=phones), key=lambda f: f.start)
    out, pos = [], 0
    for f in findings:
        if f.start < pos:  # overlapping finding: already covered
            pos = max(pos, f.end)
            continue
        out.append(text[pos : f.start])
        out.append(f"[REDACTED:{f.kind}]")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
