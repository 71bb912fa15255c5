"""What a query asks, in signals the hybrid recall can score: its search terms, the scores of
each retriever normalised to 0..1 and how decisive they are, and the calendar periods it names
("on 8 May, 2023", "in June"). Pure functions: no database, no model."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_WORD = re.compile(r"\w+")
# Function words carry no topic; "s", "t", "ll"... are what is left of "Ada's", "don't", "we'll".
_STOP = frozenset(
    """
    a an and are as at be but by do does did for from has have how i if in into is it its me
    my of on or our so than that the their them then there these they this to was we were what
    when where which who why will with you your
    s t d ll m re ve don can could would should may might must shall
    """.split()
)


def terms(text: str) -> list[str]:
    return [t for t in dict.fromkeys(_WORD.findall(text.lower())) if t not in _STOP]


def decisiveness(normalised: dict[int, float], top: int = 10) -> float:
    """1 minus the mean normalised score of the runners-up to the best (which is 1) in the top
    `top`: near 1 when one candidate stands out, near 0 when the head is flat; 1 for a lone hit."""
    head = list(normalised.values())[:top]  # best first
    if len(head) < 2:
        return float(len(head))
    return max(0.0, head[0] - sum(head[1:]) / (len(head) - 1))


def normalise(hits: list[tuple[int, float]], depth: int, floor: float) -> dict[int, float]:
    """Scores (best first) to 0..1: the best is 1; the score at the candidate depth, or `floor`
    when fewer than `depth` candidates came back, is 0."""
    if not hits:
        return {}
    top = hits[0][1]
    bottom = hits[-1][1] if len(hits) >= depth and len(hits) > 1 else min(floor, hits[-1][1])
    span = top - bottom
    return {mid: (score - bottom) / span if span > 0 else 1.0 for mid, score in hits}


_TOLD_WITHIN = timedelta(days=7)  # an event is often told in the week after it happened

_MONTHS = {
    name[:n]: number
    for number, name in enumerate(
        "january february march april may june july august september october november december".split(), 1
    )
    for n in (3, len(name))
} | {"sept": 9}
_MONTH = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
)
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"((?:19|20)\d\d)"
# Most specific first; what one pattern matched is removed before the next looks.
_DATES = [
    ("dmy", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.I)),
    ("mdy", re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.I)),
    ("my", re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.I)),
    # A month alone only after a preposition: "may" is also a verb.
    ("m", re.compile(rf"\b(?:in|during|since|of|early|late|mid)\s+{_MONTH}(?!\s*\d)\b", re.I)),
    ("y", re.compile(rf"\b{_YEAR}\b")),
]

Period = tuple[datetime, datetime] | int  # [start, end), or a month of any year


def periods(text: str) -> list[Period]:
    """The calendar periods a query names: days, months, years; a bare month is of any year."""
    found: list[Period] = []
    for kind, pattern in _DATES:
        for m in pattern.finditer(text):
            g = m.groups()
            try:
                if kind == "dmy" or kind == "mdy":
                    day, month = (g[0], g[1]) if kind == "dmy" else (g[1], g[0])
                    start = datetime(int(g[2]), _MONTHS[month.lower()], int(day), tzinfo=UTC)
                    found.append((start, start + timedelta(days=1)))
                elif kind == "my":
                    year, month_n = int(g[1]), _MONTHS[g[0].lower()]
                    end = datetime(year + month_n // 12, month_n % 12 + 1, 1, tzinfo=UTC)
                    found.append((datetime(year, month_n, 1, tzinfo=UTC), end))
                elif kind == "m":
                    found.append(_MONTHS[g[0].lower()])
                else:
                    year = int(g[0])
                    found.append((datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)))
            except ValueError:  # "31 February"
                continue
        text = pattern.sub(" ", text)
    return found


def written_in(written: datetime, periods: list[Period]) -> bool:
    """Whether a memory written at `written` may be about one of the periods: written in it or
    up to a week after it ended."""
    for period in periods:
        if isinstance(period, int):
            if period in (written.month, (written - _TOLD_WITHIN).month):
                return True
        elif period[0] <= written < period[1] + _TOLD_WITHIN:
            return True
    return False
