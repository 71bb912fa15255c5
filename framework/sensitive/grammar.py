"""Pieces of the credential grammar: pattern fragments, and readers of a value around a match.

Patterns stay small on purpose: a value is matched as one token (`\\S+`) and read in Python, where a
quoted phrase, a digit group or a clause is taken from a bounded window (a closing quote within 100
bytes, a clause within 120). Counted repetitions and alternations of quotes would multiply the states
of RE2's automaton and slow every scan.
"""

from __future__ import annotations

import re

from framework.sensitive.scan import Doc, Match

# Patterns below run over the lower-cased text (see `scan.compile_pattern(lower=True)`).
CONN = (
    r"\s*(?::=|=>|->|=|:|#(?:\s*(?:is|:))?)\s*"
    r"|\s+(?:is|was|are|were|will\s+be|would\s+be|has\s+been|have\s+been|had\s+been|became|becomes|reads?|"
    r"equals|ist|es|est|é|era|war)(?:\s*:\s*|\s+)"
    r"|\s*(?:'s|’s)\s+|\s*\?\s*(?:it's|it’s|it\s+is)\s+|\s*,\s*(?:it's|it’s|it\s+is|which\s+is)\s+"
    r"|[ \t]+(?:-|–|—)[ \t]+"
)
# "the password [for the VPN | they gave me | I use] is": a qualifier after the keyword.
MID = (
    r"\s+(?:for|of|to|on|at|in|with|from|that|which|i|you|we|they|he|she|my|our|your)\b"
    r"(?:\s+[^\s:=;,.!?\"'`]+){0,5}?"
)
FILLER = (
    r"(?:(?:now|still|currently|actually|just|simply|literally|always|also|probably|definitely|officially|"
    r"again|(?:set|changed|rotated|reset|updated|switched)\s+to|the\s+(?:word|string|phrase|number|digits|"
    r"code|letters))\s+){0,3}"
)
VAL = r"(?P<val>\S+)"  # one token, whatever its length: the match consumes it; Python reads 256 bytes at most
DET = r"(?:the\s+user's|the\s+user’s|user's|my|the|our|his|her|their|your|its|a|an|this|that)"

_QUOTES = {b"'": b"'", b'"': b'"', b"`": b"`", "“".encode(): "”".encode(), "‘".encode(): "’".encode()}
_ENDS = frozenset(b".,;:!?)")
_QUOTE_FIRST_BYTES = frozenset(b"'\"`\xe2")  # ' " ` and the first byte of “ ‘
_TRAILING = (b".", b",", b";", b":", b")", b"]", b"}", b">", b'"', b"'")
_CLAUSE_END = re.compile(rb"[.;,\n!?(]")  # a one-byte class over a bounded window: linear


def value_span(doc: Doc, m: Match) -> tuple[int, int, bool]:
    """The value's byte span (quotes removed, sentence punctuation dropped) and whether it was quoted."""
    start, end = m.span("val")
    end = min(end, start + 256)
    data = doc.data
    if data[start] not in _QUOTE_FIRST_BYTES:
        while end > start and data[end - 1 : end] in _TRAILING:
            end -= 1
        return start, end, False
    for opening, closing in _QUOTES.items():
        if data.startswith(opening, start):
            inner = start + len(opening)
            close = data.find(closing, inner, inner + 100)
            if close > inner and b"\n" not in data[inner:close]:
                return inner, close, True
            start = inner  # no closing quote: the token without its opening quote
            break
    while end > start and data[end - 1 : end] in _TRAILING:
        end -= 1
    for closing in ("”".encode(), "’".encode()):
        if data.endswith(closing, start, end):
            end -= len(closing)
    return start, end, False


def clause_end(doc: Doc, start: int, limit: int = 200) -> int:
    """Where the clause that starts at `start` ends (punctuation, a newline), within `limit` bytes."""
    stop = min(len(doc.data), start + limit)
    found = _CLAUSE_END.search(doc.data, start, stop)
    return found.start() if found else stop


def extend_groups(doc: Doc, end: int) -> int:
    """'YT 41 70 61 D', 'DE89 3704': take the following groups of an identifier written with spaces."""
    data, limit = doc.data, min(len(doc.data), end + 40)
    while end < limit and data[end : end + 1] in (b" ", b"-"):
        j = end + 1
        while j < len(data) and j - end <= 7 and data[j : j + 1].isalnum():
            j += 1
        group = data[end + 1 : j]
        if (
            not group
            or j - end > 7
            or (j < len(data) and not data[j : j + 1].isspace() and data[j] not in _ENDS)
        ):
            break  # not a whole group ("I'm", "4111abc")
        if not (any(48 <= c <= 57 for c in group) or group in (b"A", b"B", b"C", b"D")):
            break  # a group has digits, or is the letter that ends a NINO
        end = j
    return end


_ASCII_QUOTES = {ord("'"): b"'", ord('"'): b'"', ord("`"): b"`"}
_CURLY = {"”": "“", "’": "‘"}


def token_before(doc: Doc, pos: int) -> tuple[int, int, bool]:
    """The token (or quoted phrase) that ends at byte `pos`, ignoring spaces: (start, end, quoted)."""
    data, end = doc.data, pos
    while end > 0 and data[end - 1 : end] in (b" ", b"\t"):
        end -= 1
    last = data[end - 1] if end else 0
    closing = doc.str(max(0, end - 3), end)[-1:]
    if last in _ASCII_QUOTES or closing in _CURLY:
        quote = _ASCII_QUOTES.get(last) or _CURLY[closing].encode()
        width = 1 if last in _ASCII_QUOTES else 3
        opening = data.rfind(quote, max(0, end - 110), end - width)
        if opening >= 0:
            return opening + len(quote), end - width, True
    start = end
    while start > 0 and end - start < 120 and not data[start - 1 : start].isspace():
        start -= 1
    while start < end and data[start : start + 1] in (b"(", b"[", b"{", b"<", b'"', b"'"):
        start += 1
    return start, end, False
