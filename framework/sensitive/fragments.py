"""A piece of a secret is a secret: "the password starts with X", "the first half of the key is X".

With a keyword, the piece is judged by the keyword's family (a fragment of a card needs five digits or
more: the first six or last four digits of a card are routinely shown). Without one ("the second half is
X", "the rest is X") it counts on its own only if it is shaped like a secret; otherwise it waits for a
fragment statement shortly before it in the same text (`detect`), which is how a secret split across two
memories is caught once they are read together (`context`).
"""

from __future__ import annotations

from framework.sensitive.finding import GRAMMAR, Hit
from framework.sensitive.grammar import DET, FILLER, VAL, clause_end, extend_groups, value_span
from framework.sensitive.keywords import ANY, Family, accepts, family_of
from framework.sensitive.numbers import is_test_card
from framework.sensitive.scan import Doc, Match, compile_pattern
from framework.sensitive.values import FUNCTION_WORDS, is_description, is_placeholder, leading_content, strong

FRAGMENT = compile_pattern(
    rf"(?:\b(?P<kw1>{ANY})\b\s+(?:starts?|begins?|ends?|started|began|ended|starting|beginning|ending)\s+"
    r"(?:with|in|on)"
    r"|\b(?:first|last|second|third|fourth|other|remaining|final|next|initial|latter|former|1st|2nd|3rd)\s+"
    r"(?:half|part|bit|piece|chunk|portion|section|segment|few\s+(?:characters|chars|letters|digits|numbers)"
    r"|(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\s+(?:characters|chars|letters|"
    r"digits|numbers|symbols|words)|characters|chars|letters|digits|numbers|symbols|words|character|char|letter"
    rf"|digit)(?:\s+of\s+(?:{DET}\s+)?(?:[\w'’-]+\s+){{0,3}}\b(?P<kw2>{ANY})\b)?"
    r"(?:\s+(?:is|are|was|were)(?:\s*:)?|\s*[:=])"
    r"|\b(?:the\s+)?rest(?:\s+of\s+(?:it|the\s+[\w'’-]+))?\s+(?:is|was|are|:)"
    rf"|\b(?P<kw3>{ANY})\b\s+(?:contains|includes))\s*{FILLER}{VAL}",
    lower=True,
)


_FUNCTION_BYTES = frozenset(w.encode() for w in FUNCTION_WORDS)


def scan(doc: Doc) -> list[Hit]:
    hits: list[Hit] = []
    for m in doc.finditer(FRAGMENT):
        hits.extend(_fragment(doc, m))
    return hits


def _fragment(doc: Doc, m: Match) -> list[Hit]:
    start, end, quoted = value_span(doc, m)
    keyword = next((g for g in ("kw1", "kw2", "kw3") if m.has(g)), None)
    if keyword and not quoted and doc.data[start:end] in _FUNCTION_BYTES:
        return []  # "the first half of the key is the ...": fast (but "Or", "correct horse" go on)
    family = family_of(doc.str(*m.span(keyword))) if keyword else None
    if m.has("kw3") and (family is None or family.name not in ("password", "pin") or not quoted):
        return []  # "the password contains 'dog'", not "the token contains ASCII characters"
    if family is not None and family.name in ("identity", "account", "card"):
        end = extend_groups(doc, end)
    value = doc.str(start, end)
    if family is not None:
        if family.name in ("password", "phrase") and not quoted and is_description(value, morphology=False):
            phrase = leading_content(doc.str(start, clause_end(doc, start, 80)), 2)
            if phrase:  # "the first half of the password is correct horse"
                value, end = phrase, start + len(phrase.encode())
        if accepts(family, value, fragment=True) and not _public_card(doc, family, start, end, value):
            return [Hit(family.kind, start, end, value, GRAMMAR, ev_start=m.start(), fragment=True)]
        return []
    if is_placeholder(value):
        return []
    if strong(value, 6):  # "the second half is ODNN7ABCDEFG": a secret by its shape alone
        return [Hit("secret", start, end, value, GRAMMAR, ev_start=m.start(), fragment=True)]
    if not quoted:  # "the second half is in june": the rest of the clause, if it follows a first half
        value = doc.str(start, clause_end(doc, start, 80)).rstrip()
        end = start + len(value.encode())
    return [Hit("secret", start, end, value, GRAMMAR, ev_start=m.start(), needs="company", fragment=True)]


def _public_card(doc: Doc, family: Family, start: int, end: int, value: str) -> bool:
    return family.name == "card" and is_test_card(doc, start, end, "".join(c for c in value if c.isdigit()))
