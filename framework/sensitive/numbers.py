"""Personal numbers found by their shape and checksum: cards, IBANs, national ids; emails and phones.

One RE2 pattern finds digit groups ("4111 1111 1111 1111", "078-05-1120", "2345 6789 0123"), long
digit runs, IBAN-shaped and NINO-shaped tokens; Python classifies each by its grouping and checksum:

- card: 13-19 digits, grouped as cards are (4-4-4-4, 4-6-5, 4-6-4) with one kind of separator (space,
  dash, dot) or none, an issuer prefix and length, and the Luhn checksum;
- US SSN: 3-2-4 digits with separators and the SSA's validity rules (bare 9 digits only after a keyword,
  which `credentials` handles);
- Aadhaar: 4-4-4 digits, Verhoeff-valid; UK NINO: its letter rules; IBAN: country length and mod-97.

Test cards. The processors' public test numbers (4242 4242 4242 4242, 4111 1111 1111 1111, ...) are
placeholders only where the text says so: a test-context word ("test", "testing", "sandbox", "dummy")
within 80 characters of the number. "my card is 4111.1111.1111.1111" is a card number.
"""

from __future__ import annotations

import re

from framework.sensitive import checksums
from framework.sensitive.finding import SHAPE, Hit
from framework.sensitive.scan import Doc, compile_pattern, is_word_byte

NUMBERS = compile_pattern(
    r"(?P<grp>\b\d{2,6}(?:[ .-]\d{1,6}){1,6}\b)|(?P<long>\b\d{9,19}\b)"
    r"|(?P<iban>\b[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,8}(?: ?[a-z0-9]{1,4})?\b)"
    r"|(?P<nino>\b[a-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[a-d]\b)",
    ("grp", "long", "iban", "nino"),
    lower=True,
)
EMAIL = compile_pattern(r"[\pL\pN._%+-]{1,64}@[\pL\pN-]{1,63}(?:\.[\pL\pN-]{1,63}){1,8}")
PHONE = compile_pattern(r"(?:\+?\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]\d{4}\b")
TEST_CARDS = frozenset(
    """4242424242424242 4000056655665556 5555555555554444 2223003122003222 5200828282828210 5105105105105100
    378282246310005 371449635398431 6011111111111117 6011000990139424 3056930009020004 36227206271667
    3566002020360505 6200000000000005 4111111111111111 4012888888881881 4222222222222 5019717010103742
    6331101999990016 30569309025904 38520000023237 378734493671000 5610591081018250 6011000400000000
    4000000000000002 4000000000009995 4000000000000069 4000000000000127 4000000000000119 4000002500003155
    4000002760003184 4000000000003220 4000000000000077 4000000000000093 4000000000000341 4917610000000000
    4444333322221111 5454545454545454 4007000000027 4012000033330026 4012000077777777 2222400070000005
    5577000055770004 5555341244441115 374245455400126 6011601160116611""".split()
)
_TEST_CONTEXT = re.compile(r"(?i)\b(?:test(?:ing|s)?|sandbox|dummy|sample|fake)\b")
_ID_LABEL = re.compile(
    r"(?i)\b(?:order|invoice|ticket|ref|reference|tracking|item|sku|part|model|serial|case|"
    r"booking|confirmation|po|isbn|issn|build|version|release|phone|tel|fax)\b[\s#:.no]*$"
)
# Card groupings, longest first (a 19-digit card before the 16 digits it starts with); then SSN, Aadhaar.
_GROUPINGS = (
    (4, 4, 4, 4, 3),
    (4, 4, 4, 4, 2),
    (4, 4, 4, 4, 1),
    (4, 4, 4, 4),
    (4, 6, 5),
    (4, 6, 4),
    (4, 4, 4, 3),
    (4, 4, 4, 2),
    (4, 4, 4, 1),
)
# (length, first digit) of a run's first group -> the shapes it may start: cards start with 2-6 (issuers),
# Aadhaar numbers with 2-9, SSNs are 3-2-4.
_SHAPES_BY_FIRST = {
    **{(3, d): ((3, 2, 4),) for d in "0123456789"},
    **{(4, d): (*_GROUPINGS, (4, 4, 4)) for d in "23456"},
    **{(4, d): ((4, 4, 4),) for d in "789"},
}


def is_test_card(doc: Doc, start: int, end: int, digits: str) -> bool:
    """A public test number in a text that marks it as a test card."""
    if digits not in TEST_CARDS:
        return False
    window = doc.str(max(0, start - 80), start) + " " + doc.str(end, end + 80)
    return _TEST_CONTEXT.search(window) is not None


def scan(doc: Doc) -> list[Hit]:
    hits: list[Hit] = []
    for m in doc.finditer(NUMBERS):
        group = m.alternative
        start, end = m.span()
        if group == "grp":
            if end - start >= 10:  # at least nine digits and a separator: "249.00", "2024-05" are not
                hits.extend(_groups(doc, start, end))
        elif group == "long":
            digits = doc.str(start, end)
            decimal = doc.data[start - 1 : start] == b"." and doc.data[start - 2 : start - 1].isdigit()
            if not decimal and checksums.card_ok(digits) and not is_test_card(doc, start, end, digits):
                hits.append(Hit("card_number", start, end, digits, SHAPE))
        elif group == "iban":
            hits.extend(_iban(doc, start, end))
        elif group == "nino" and checksums.nino_ok(doc.str(start, end).replace(" ", "")):
            hits.append(Hit("nino", start, end, doc.str(start, end), SHAPE))
    return hits


def _groups(doc: Doc, start: int, end: int) -> list[Hit]:
    """The first card, SSN or Aadhaar among the runs of consecutive groups ("ref 12 4111 1111 1111 1111"):
    only runs shaped like one of them are checked, so a long run of groups costs a few steps per group."""
    text = doc.str(start, end)
    parts = re.split(r"[ .-]", text)
    if sum(len(p) for p in parts) < 9:
        return []
    seps = re.findall(r"[ .-]", text)
    lengths = tuple(len(p) for p in parts)
    offset = start
    for i, first in enumerate(parts):
        for shape in _SHAPES_BY_FIRST.get((len(first), first[:1]), ()):
            j = i + len(shape)
            if lengths[i:j] != shape:
                continue
            stop = offset + sum(shape) + len(shape) - 1
            hit = _classify(doc, parts[i:j], offset, stop, len(set(seps[i : j - 1])) <= 1)
            if hit is not None:
                return [hit]
        offset += len(first) + 1
    return []


def _classify(doc: Doc, run: list[str], start: int, end: int, one_separator: bool) -> Hit | None:
    digits = "".join(run)
    shape = tuple(len(p) for p in run)
    if shape in _GROUPINGS:
        if one_separator and checksums.card_ok(digits):
            return (
                None
                if is_test_card(doc, start, end, digits)
                else Hit("card_number", start, end, digits, SHAPE)
            )
        return None
    if shape == (3, 2, 4) and checksums.ssn_ok(digits) and not _labelled(doc, start):
        return Hit("ssn", start, end, doc.str(start, end), SHAPE)
    if shape == (4, 4, 4) and one_separator and checksums.aadhaar_ok(digits) and not _labelled(doc, start):
        return Hit("aadhaar", start, end, doc.str(start, end), SHAPE)
    return None


def _labelled(doc: Doc, start: int) -> bool:
    """'order 123-45-6789': a number labelled as something other than a person's id."""
    return _ID_LABEL.search(doc.str(max(0, start - 24), start)) is not None


def _iban(doc: Doc, start: int, end: int) -> list[Hit]:
    """The IBAN inside the match: the pattern may have taken a word after it ("DE89 ... 00 is mine"), so
    cut it at its country's length, on a group boundary."""
    text = doc.str(start, end)
    length = checksums.IBAN_LENGTHS.get(text[:2].upper())
    if length is None:
        return []
    count, stop = 0, start
    for i, ch in enumerate(text):
        if ch != " ":
            count += 1
        if count == length:
            stop = start + i + 1
            break
    else:
        return []
    if stop < end and doc.data[stop : stop + 1] != b" ":
        return []
    compact = doc.str(start, stop).replace(" ", "")
    return [Hit("iban", start, stop, doc.str(start, stop), SHAPE)] if checksums.iban_ok(compact) else []


def contacts(doc: Doc, *, emails: bool, phones: bool) -> list[Hit]:
    """Email addresses and phone numbers (personal data, but often wanted: only on request)."""
    hits: list[Hit] = []
    if emails:
        for m in doc.finditer(EMAIL):
            hits.append(Hit("email", m.start(), m.end(), doc.str(*m.span()), SHAPE))
    if phones:
        data = doc.data
        for m in doc.finditer(PHONE):
            start = m.start()
            if start and (is_word_byte(data[start - 1]) or data[start - 1 : start] == b"("):
                continue
            hits.append(Hit("phone", start, m.end(), doc.str(start, m.end()), SHAPE))
    return hits
