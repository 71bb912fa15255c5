"""Detection and redaction of secrets, personal data and special-category data.

Anything the runtime persists that came from a user or a tool (working state, audit details, logs)
goes through `redact` first, and a memory candidate with any finding is rejected by the write policy.

The detectors, each a few RE2 scans over the UTF-8 bytes of the text (linear time, see `scan`):

- `credentials`: credentials said in words ("pw: X", "X is my password", "I changed my PIN to X");
- `fragments`:   pieces of them ("the password starts with Kx7", "the first half of the key is X");
- `structured`:  assignments (`DB_PASSWORD=...`, `AccountKey=...`), `scheme://user:pass@host`, headers;
- `tokens`:      provider tokens by shape (AWS, GitHub, Stripe, OpenAI, JWTs, private keys, ...);
- `numbers`:     cards (Luhn), IBANs (mod-97), SSNs, NINOs, Aadhaar (Verhoeff); emails and phones;
- `special`:     special-category data (GDPR art. 9: health, orientation, religion, politics, unions,
                 ethnicity, biometric and genetic data).

Public example values are not secrets: placeholders (`${TOKEN}`, `<your-password>`, `xxxx`), values
containing "EXAMPLE" (AWS's documentation keys), publishable `pk_` keys, and the processors' public test
cards when the text marks them as test cards (see `numbers`).
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache
from typing import Any

import re2

from framework.sensitive import credentials, fragments, numbers, structured, tokens
from framework.sensitive.finding import PII, REFERENCE, SECRET, SHAPE, SPECIAL, Finding, Hit
from framework.sensitive.scan import Doc, compile_pattern
from framework.sensitive.special import scan as scan_special
from framework.sensitive.values import classes, trim

_FRAGMENT_GAP = 200  # bytes between "the first half of the key is X" and "the second half is Y"
_MAX_REPEATED = 256  # distinct values looked for again in one text
_LITERAL_OPTIONS = re2.Options()
_LITERAL_OPTIONS.max_mem = 64 << 20
_GAP = frozenset((b" ", b",", b"-", b".", b";", b":", b"\n", b"\t"))
_DIGIT_KINDS = frozenset({"card_number", "ssn", "iban", "aadhaar", "bsn", "bank_account", "nino", "phone"})


def collect(
    doc: Doc,
    *,
    secrets: bool = True,
    pii: bool = True,
    special: bool = True,
    emails: bool = False,
    phones: bool = False,
    unresolved: bool = False,
) -> list[Hit]:
    """Every hit in `doc` of the categories asked for, resolved and de-duplicated, sorted by start.
    With `unresolved`, references that found no value ("that's my password" alone) are kept, marked by
    `needs == "referent"`, for `context` to settle against an earlier text."""
    hits: list[Hit] = []
    if secrets or pii:
        hits += credentials.scan(doc)
        hits += fragments.scan(doc)
    if secrets:
        hits += structured.scan(doc)
        hits += tokens.scan(doc)
    if pii:
        hits += numbers.scan(doc)
    if special:
        hits += scan_special(doc)
    if emails or phones:
        hits += numbers.contacts(doc, emails=emails, phones=phones)
    hits = _resolve(doc, hits, unresolved)
    wanted = {c for c, on in ((SECRET, secrets), (PII, pii or emails or phones), (SPECIAL, special)) if on}
    hits = [h for h in hits if h.category in wanted]
    return _dedupe(hits + _repeats(doc, hits))


def _repeats(doc: Doc, hits: list[Hit]) -> list[Hit]:
    """Every other occurrence, in the same text, of a secret found by its context ("requirepass X ...; the
    redis password is X"): one RE2 scan for all of them (values found by shape are found everywhere
    already; special-category terms may be said of someone else)."""
    values: dict[bytes, str] = {}
    for h in hits:
        shaped = classes(h.value) >= 2  # "R3d!s-Prod-9", not a plain word that may occur anywhere
        by_context = h.priority < SHAPE and h.category != SPECIAL and not h.needs
        if by_context and shaped and 6 <= h.end - h.start <= 256:
            values.setdefault(doc.data[h.start : h.end], h.kind)
            if len(values) == _MAX_REPEATED:
                break
    if not values:
        return []
    pattern = compile_pattern("|".join(re2.escape(v.decode("utf-8", "surrogatepass")) for v in values))
    covered = {(h.start, h.end) for h in hits}
    out = []
    for m in doc.finditer(pattern):
        start, end = m.span()
        if (start, end) not in covered:
            out.append(Hit(values[doc.data[start:end]], start, end, doc.str(start, end), REFERENCE))
    return out


def _resolve(doc: Doc, hits: list[Hit], unresolved: bool = False) -> list[Hit]:
    """Settle the hits that are not findings on their own (see `Hit.needs`)."""
    real = [h for h in hits if not h.needs]
    out = list(real)
    fragment_ends = sorted(h.end for h in real if h.fragment)
    for h in (h for h in hits if h.needs == "company"):
        i = bisect.bisect_right(fragment_ends, h.ev_start)  # the last fragment ending before this one
        if i and h.ev_start - fragment_ends[i - 1] <= _FRAGMENT_GAP:
            out.append(Hit(h.kind, h.start, h.end, h.value, h.priority, h.ev_start, h.ev_end, fragment=True))
    by_end = {h.end: h for h in real}
    for ref in (h for h in hits if h.needs == "referent"):
        pos, referent = ref.start, None
        for _ in range(8):  # the value may be followed by spaces, a comma, a dash or a period
            referent = by_end.get(pos)
            if referent is not None or pos == 0 or doc.data[pos - 1 : pos] not in _GAP:
                break
            pos -= 1
        if referent is not None:
            out.append(
                Hit(
                    referent.kind,
                    referent.start,
                    referent.end,
                    referent.value,
                    referent.priority,
                    referent.ev_start,
                    max(referent.ev_end, ref.ev_end),
                )
            )
        elif unresolved:
            out.append(ref)
    return out


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """One hit per value span (the strongest kind, the widest evidence), none inside another of the
    same category."""
    best: dict[tuple[int, int, str], Hit] = {}
    for h in hits:
        key = (h.start, h.end, h.category)
        old = best.get(key)
        if old is None:
            best[key] = h
            continue
        winner = h if h.priority > old.priority else old
        best[key] = Hit(
            winner.kind,
            h.start,
            h.end,
            winner.value or old.value or h.value,
            winner.priority,
            min(h.ev_start, old.ev_start),
            max(h.ev_end, old.ev_end),
        )
    ordered = sorted(best.values(), key=lambda h: (h.start, -h.end))
    kept: list[Hit] = []
    reach: dict[str, int] = {}
    for h in ordered:
        if h.end <= reach.get(h.category, -1):
            continue  # inside an earlier, wider hit of the same category
        reach[h.category] = max(reach.get(h.category, -1), h.end)
        kept.append(h)
    return kept


def to_findings(doc: Doc, hits: list[Hit]) -> list[Finding]:
    offsets = doc.char_offsets([p for h in hits for p in (h.start, h.end)])
    return [Finding(h.kind, offsets[h.start], offsets[h.end], h.category, h.value) for h in hits]


def find_sensitive(
    text: str,
    *,
    emails: bool = False,
    phones: bool = False,
    special: bool = True,
    secrets: bool = True,
    pii: bool = True,
) -> list[Finding]:
    """Every secret, piece of personal data and special-category datum found in `text`, by position.

    Categories: `secrets` (credentials, keys, tokens), `pii` (cards, IBANs, national ids; `emails` and
    `phones` only when asked), `special` (health, religion, ... ; see `finding`)."""
    doc = Doc(text)
    return to_findings(
        doc, collect(doc, secrets=secrets, pii=pii, special=special, emails=emails, phones=phones)
    )


def redact(
    text: str,
    *,
    emails: bool = False,
    phones: bool = False,
    special: bool = True,
    secrets: bool = True,
    pii: bool = True,
) -> str:
    """`text` with every finding replaced by [REDACTED:kind] (overlapping findings: one marker, named
    after the strongest of them)."""
    doc = Doc(text)
    hits = collect(doc, secrets=secrets, pii=pii, special=special, emails=emails, phones=phones)
    if not hits:
        return text
    clusters: list[list[int]] = []  # [start, end, index of the strongest hit]
    for i, h in enumerate(hits):
        if clusters and h.start < clusters[-1][1]:
            cluster = clusters[-1]
            cluster[1] = max(cluster[1], h.end)
            if h.priority > hits[cluster[2]].priority:
                cluster[2] = i
        else:
            clusters.append([h.start, h.end, i])
    offsets = doc.char_offsets([p for c in clusters for p in c[:2]])
    out, pos = [], 0
    for start, end, i in clusters:
        out.append(text[pos : offsets[start]])
        out.append(f"[REDACTED:{hits[i].kind}]")
        pos = offsets[end]
    out.append(text[pos:])
    return "".join(out)


def values_of(hit: Hit, text_value: str) -> set[str]:
    """The forms of a hit's value worth remembering: as written, trimmed, digits only, compact."""
    forms = {hit.value, text_value, trim(hit.value), trim(hit.value).rstrip("!?")}
    if hit.kind in _DIGIT_KINDS:
        digits = re.sub(r"\D", "", hit.value)
        forms.add(digits)
        forms.add(re.sub(r"[\s.-]", "", hit.value))
    return {f.strip() for f in forms if len(f.strip()) >= 3}


def sensitive_values(
    text: str,
    *,
    emails: bool = False,
    phones: bool = False,
    special: bool = True,
    secrets: bool = True,
    pii: bool = True,
) -> set[str]:
    """The secret values themselves (a password without its "password is", a card's digits), so that a
    memory restating one in other words can be recognised (`repeats_secret`)."""
    doc = Doc(text)
    values: set[str] = set()
    for h in collect(doc, secrets=secrets, pii=pii, special=special, emails=emails, phones=phones):
        values |= values_of(h, doc.str(h.start, h.end))
    return values


def repeats_secret(text: str, secrets: set[str]) -> bool:
    """Whether `text` contains one of `secrets` (any case; a number also with its separators removed)."""
    return bool(secret_occurrences(text, secrets))


def secret_occurrences(text: str, secrets: set[str]) -> list[tuple[int, int, str]]:
    """Where `secrets` occur in `text`, in any case: (start, end, secret). One RE2 scan for all of them
    (linear in the text, however many secrets); a number or IBAN written with other separators is
    found in the text with its separators removed, and then reported as the whole text."""
    if not secrets or not text:
        return []
    pattern, by_folded = _secrets_pattern(frozenset(secrets))
    found: list[tuple[int, int, str]] = []
    for m in pattern.finditer(text):
        found.append((m.start(), m.end(), by_folded.get(m.group().casefold(), m.group())))
    if not found:
        squashed_pattern = _secrets_pattern(frozenset(_squash(s) for s in secrets if len(_squash(s)) >= 8))[0]
        if squashed_pattern is not None and squashed_pattern.search(_squash(text)):
            found.append((0, len(text), text))
    return found


def _squash(value: str) -> str:
    return re.sub(r"[\s.-]", "", value)


@lru_cache(maxsize=64)
def _secrets_pattern(secrets: frozenset[str]) -> tuple[Any, dict[str, str]]:
    """A case-insensitive alternation of the secrets, longest first (cached: a turn checks each
    candidate against the same secrets)."""
    if not secrets:
        return None, {}
    ordered = sorted(secrets, key=len, reverse=True)
    pattern = re2.compile("(?i)" + "|".join(re2.escape(s) for s in ordered), _LITERAL_OPTIONS)
    return pattern, {s.casefold(): s for s in ordered}
