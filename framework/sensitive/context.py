"""Findings that appear only when a text is read with what came before it.

A secret can be split across two memories ("the first half of the key is AKIAIOSF" / "the second half is
ODNN7ABCDEFG"), typed over two turns ("my password is hunt" / "er2x"), or said in one turn and named in
the next ("hunter2x" / "that's my password"). Each piece may look harmless alone. Three mechanisms:

- joins: the candidate is scanned after each context text, and after all of them, joined by a space and
  with no separator; every finding whose evidence reaches into the candidate is reported;
- referents: a text that opens with a reference ("that's my password", "it's my diagnosis") names the
  whole text before it, if that text is shaped like such a value (one word, or a short phrase);
- remembered values: every value found in the context (`sensitive_values`, plus referents) is looked for
  in the candidate, so a later restatement without any keyword is caught too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from framework.sensitive.detect import collect, find_sensitive, secret_occurrences, to_findings, values_of
from framework.sensitive.finding import SPECIAL, Finding, Hit, category_of
from framework.sensitive.keywords import ANY
from framework.sensitive.scan import Doc
from framework.sensitive.values import FUNCTION_WORDS, is_description, is_placeholder

_ORDINARY_WORD = re.compile(r"[A-Za-z][A-Za-z_'’]*[.,;:!?]?$")  # "the", "I'm", "HTTP", "api_key"
# "My password is Or": a keyword, a connector and a short token at the very end (a value cut short)
_SHORT_VALUE_AT_END = re.compile(rf"(?i)\b(?:{ANY})\b\S*\s*(?:is|was|:|=)\s*(\S{{1,5}})$")
_JOINED_END = re.compile(r"[A-Za-z0-9][-_/:@]$")
_WORD = re.compile(r"[A-Za-z'’-]+[!?.,]?$")
_PREAMBLE = frozenset("ok okay and so btw yes yeah well oh also fyi right sure".split())


def find_sensitive_in_context(
    candidate: str,
    context: Sequence[str],
    *,
    emails: bool = False,
    phones: bool = False,
    special: bool = True,
    secrets: bool = True,
    pii: bool = True,
) -> list[Finding]:
    """Findings that involve `candidate` once it is read after `context` (earlier turns or memories,
    oldest first). Positions are in `candidate`; a finding that starts in the context is clipped to
    where it enters the candidate, and its `value` is the whole joined value. The cost is that of a few
    scans of each context text (linear in their total length)."""
    flags: dict[str, Any] = dict(emails=emails, phones=phones, special=special, secrets=secrets, pii=pii)
    found: dict[tuple[str, int, int], Finding] = {}
    for f in find_sensitive(candidate, **flags):
        found.setdefault((f.kind, f.start, f.end), f)
    texts = [c for c in context if c]
    if not texts or not candidate:
        return sorted(found.values(), key=lambda f: (f.start, f.end))
    remembered: dict[str, str] = {}  # value -> kind, from the context
    # A reference names the whole earlier text ("open sesame 42" / "it's my password"): it goes
    # first, so its value is kept over a join's partial reading of the same span ("42").
    for f in _referents(texts, candidate, flags, remembered):
        found.setdefault((f.kind, f.start, f.end), f)
    for prefix in [*texts, " ".join(texts)] if len(texts) > 1 else texts:
        for f in _joins(prefix, candidate, flags, remembered):
            found.setdefault((f.kind, f.start, f.end), f)
    for start, end, value in secret_occurrences(candidate, set(remembered)):
        kind = remembered[value]
        found.setdefault((kind, start, end), Finding(kind, start, end, category_of(kind), value))
    return sorted(found.values(), key=lambda f: (f.start, f.end))


def _joins(prefix: str, candidate: str, flags: dict[str, Any], remembered: dict[str, str]) -> list[Finding]:
    """The candidate read right after `prefix`, with a space and (if plausible) with nothing between;
    the values found in `prefix` alone are added to `remembered`."""
    doc = Doc(prefix)
    hits = collect(doc, **flags)
    for hit in hits:
        if hit.category != SPECIAL:  # a term like "HIV" said again may be about anyone
            for value in values_of(hit, doc.str(hit.start, hit.end)):
                remembered.setdefault(value, hit.kind)
    ending = [h for h in hits if h.end >= len(doc.data.rstrip(b" .,;:!?"))]
    phrases = {h.start for h in ending if h.kind in ("password", "secret") and _phrase(h.value)}
    open_value = any(not _complete(h.value) for h in ending)
    found = _joined(prefix + " ", candidate, flags, phrases)
    if _fusable(prefix, candidate, open_value):
        found += _joined(prefix, candidate, flags, set())
    return found


def _referents(
    texts: list[str], candidate: str, flags: dict[str, Any], remembered: dict[str, str]
) -> list[Finding]:
    """A text that opens with a reference names the whole text before it ("hunter2x" / "that's my
    password"): the value is remembered, and a reference opening the candidate is a finding."""
    found = []
    sequence = [*texts, candidate]
    for i in range(1, len(sequence)):
        ref = _opening_reference(sequence[i], flags)
        if ref is None or not _plausible_referent(sequence[i - 1], ref.kind):
            continue
        value = sequence[i - 1].strip()
        remembered.setdefault(value, ref.kind)
        if i == len(sequence) - 1:
            at = Doc(candidate).char_offsets([ref.start, ref.end])
            found.append(Finding(ref.kind, at[ref.start], at[ref.end], category_of(ref.kind), value))
    return found


def _phrase(value: str) -> bool:
    """A passphrase of three words or more ("lantern orbit velvet cactus")."""
    words = value.split()
    return len(words) >= 3 and all(_WORD.match(w) for w in words)


def _complete(value: str) -> bool:
    """A value that looks whole: long enough, or a PIN's digits, or a phrase of three words."""
    return len(value) >= 6 or (value.isdigit() and len(value) >= 4) or len(value.split()) >= 3


def _fusable(prefix: str, candidate: str, open_value: bool) -> bool:
    """Whether the end of `prefix` and the start of `candidate` could be one token typed in two goes:
    the candidate is a single token ("AKIAIOSF" + "ODNN7ABCDEFG", "my password is hunt" + "er2x"), the
    context stops inside a token ("pass: Al1ce-" + "Wonder") or inside a value ("My password is Or" +
    "ca followed by ..."), or the candidate starts with something other than an ordinary word ("pw: Summe"
    + "r2024! ok"). Never after the end of a sentence."""
    tail = prefix.rstrip()
    if not tail or tail != prefix or tail[-1] in ".!?;)" or not candidate or candidate[0].isspace():
        return False
    first = candidate.split(None, 1)[0]
    if first == candidate.strip() and len(first) <= 64:
        return True
    if _JOINED_END.search(tail) is not None or not _ORDINARY_WORD.match(first):
        return True
    short = _SHORT_VALUE_AT_END.search(tail[-120:])
    opens = open_value or (short is not None and not short.group(1).isdigit())
    word = re.split(r"['’]", first.lower().strip(".,;:!?"))[0]  # "she's" -> "she"
    return opens and word not in FUNCTION_WORDS


def _joined(prefix: str, candidate: str, flags: dict[str, Any], phrases: set[int]) -> list[Finding]:
    """Findings of `prefix + candidate` whose evidence reaches into the candidate, in its coordinates;
    not a passphrase the context already held whole, run on into the candidate's words (`phrases`, by
    start: "... velvet cactus" + "use the test card" is not a six-word passphrase)."""
    doc = Doc(prefix + candidate)
    offset = len(prefix)
    hits = collect(doc, **flags)
    out = []
    boundary = len(prefix.encode("utf-8", "surrogatepass"))
    for hit, f in zip(hits, to_findings(doc, hits), strict=True):
        if hit.start in phrases and boundary < hit.end < boundary + len(candidate.rstrip(" .,;:!?").encode()):
            continue  # it took the candidate's first words only, not the whole candidate
        ev = doc.char_offsets([hit.ev_start, hit.ev_end])
        if ev[hit.ev_end] <= offset:
            continue
        start = min(max(f.start, ev[hit.ev_start], offset) - offset, len(candidate))
        end = min(max(f.end, ev[hit.ev_end]) - offset, len(candidate))
        out.append(Finding(f.kind, start, max(start, end), f.category, f.value))
    return out


def _opening_reference(text: str, flags: dict[str, Any]) -> Hit | None:
    """A reference that opens `text` ("that's my password", "ok, it's my PIN") and found no value."""
    doc = Doc(text)
    for hit in collect(doc, unresolved=True, **flags):
        if hit.needs == "referent":
            before = doc.str(0, hit.start).replace(",", " ").replace("-", " ").split()
            if all(w.lower() in _PREAMBLE for w in before):
                return hit
    return None


def _plausible_referent(text: str, kind: str) -> bool:
    """Whether a whole earlier text could be the value named by a reference of this kind: one word
    that is not a description, or a short phrase that does not read as a sentence."""
    value = text.strip()
    words = value.split()
    if not words or len(value) > 200 or "\n" in value or is_placeholder(value):
        return False
    if kind == "pin" or category_of(kind) == "pii":
        return any(c.isdigit() for c in value)
    if len(words) == 1:  # a term ("Parkinson's") or a password ("hunter2x")
        return (
            value.lower() not in FUNCTION_WORDS if category_of(kind) == SPECIAL else not is_description(value)
        )
    return len(words) <= 12 and words[0].lower() not in FUNCTION_WORDS and not any(c in value for c in ".?!;")
