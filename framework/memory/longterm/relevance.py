"""What a query asks, in signals the hybrid recall can score: its search terms, the scores of
each retriever normalised to 0..1 and how decisive they are, and the calendar periods it names
("on 8 May, 2023", "in June"). Pure functions: no database, no model."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from framework.memory.timeexpr import MONTHS, calendar_dates, relative

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


# A memory holding this many distinct words, none a function word, says all a memory can.
_SAYS_FULLY = 64
_SENTENCE_END = re.compile(r"[.!?]+")


def substance(text: str) -> float:
    """How much a memory states, 0..1: its distinct words that are not function words, on a log
    scale that reaches 1 at _SAYS_FULLY, times the share of its sentences that state rather than
    ask. A document prior (as language-model retrieval weighs a document by its length): of two
    memories that match a query alike, the one that says more is likelier to hold the answer, and a
    question ("Did you go?") holds none of its own. Words are split on whitespace (punctuation
    kept): a cheap count, read for every candidate of a recall."""
    said = len(set(text.lower().split()) - _STOP)
    says = min(1.0, math.log1p(said) / math.log1p(_SAYS_FULLY))
    ends = _SENTENCE_END.findall(text)
    asked = sum(1 for end in ends if "?" in end)
    if not asked:
        return says
    # Words after the last mark are a sentence of their own (one that ends unmarked). Found by
    # position, not by a pattern anchored at the end: "[.!?]+\W*$" backtracks cubically over a
    # long run of marks (10,000 "!" took minutes).
    last = max(text.rfind(mark) for mark in ".!?")
    sentences = len(ends) + (1 if _WORD.search(text, last + 1) else 0)
    return says * (1.0 - asked / sentences)


def opening(text: str) -> str | None:
    """The first search term of a memory: who says it ("Ada: ...") or what it is about
    ("Python 3.12 is installed")."""
    text = text.lower()
    match = _WORD.search(text)
    while match is not None and match[0] in _STOP:
        match = _WORD.search(text, match.end())
    return match[0] if match else None


def decisiveness(normalised: dict[int, float], top: int = 10) -> float:
    """1 minus the mean normalised score of the runners-up to the best (which is 1) in the top
    `top`: near 1 when one candidate stands out, near 0 when the head is flat; 1 for a lone hit."""
    head = list(normalised.values())[:top]  # best first
    if len(head) < 2:
        return float(len(head))
    return max(0.0, head[0] - sum(head[1:]) / (len(head) - 1))


def normalise(hits: list[tuple[int, float]], depth: int | None, floor: float) -> dict[int, float]:
    """Scores (best first) to 0..1: the best is 1; the score at the candidate depth, or `floor`
    when fewer than `depth` candidates came back, is 0. With no depth the scores are on an
    absolute scale (cosine similarity) and `floor` is always their 0: when every hit is close, the
    runners-up stay close to the best instead of being stretched down to 0 at the depth."""
    if not hits:
        return {}
    top = hits[0][1]
    if depth is None:
        bottom = min(floor, hits[-1][1])
    else:
        bottom = hits[-1][1] if len(hits) >= depth and len(hits) > 1 else min(floor, hits[-1][1])
    span = top - bottom
    return {mid: (score - bottom) / span if span > 0 else 1.0 for mid, score in hits}


_TOLD_WITHIN = timedelta(days=7)  # an event is often told in the week after it happened

Period = tuple[datetime, datetime] | int  # [start, end), or a month of any year


def periods(text: str) -> list[Period]:
    """The calendar periods a query names (framework.memory.timeexpr's calendar grammar): days,
    months, years; a month named alone is of any year."""
    found: list[Period] = []
    for kind, g in calendar_dates(text):
        try:
            if kind == "dmy" or kind == "mdy":
                day, month = (g[0], g[1]) if kind == "dmy" else (g[1], g[0])
                start = datetime(int(g[2]), MONTHS[month.lower()], int(day), tzinfo=UTC)
                found.append((start, start + timedelta(days=1)))
            elif kind == "my":
                year, month_n = int(g[1]), MONTHS[g[0].lower()]
                end = datetime(year + month_n // 12, month_n % 12 + 1, 1, tzinfo=UTC)
                found.append((datetime(year, month_n, 1, tzinfo=UTC), end))
            elif kind == "m":
                found.append(MONTHS[g[0].lower()])
            else:
                year = int(g[0])
                found.append((datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)))
        except ValueError:  # "31 February"
            continue
    return found


def told_of(written: datetime, content: str) -> list[tuple[datetime, datetime]]:
    """The earlier periods a memory written at `written` speaks of (framework.memory.timeexpr's
    relative grammar: "last month", "two years ago", "the year before last"), each [start, end):
    a day or a week ago (give or take a few days) is a span of days, a month or a year the
    calendar one. What it says of the past week is already within `written_in`'s reach
    ("yesterday", "last weekend", "last Tuesday")."""
    spans: list[tuple[datetime, datetime]] = []
    for ref in relative(content, written):
        if ref.kind == "ago" and ref.grain in ("day", "week"):
            day = ref.at.replace(hour=0, minute=0, second=0, microsecond=0)
            reach = timedelta(days=3 if ref.grain == "week" else 1)
            spans.append((day - reach, day + reach))
        elif ref.kind in ("ago", "last") and ref.grain in ("month", "year"):
            spans.append((ref.start, ref.end))
    return spans


def written_in(written: datetime, periods: list[Period], content: str = "") -> bool:
    """Whether a memory written at `written` may be about one of the periods: written in it or
    up to a week after it ended, or it speaks of a time in it ("last month", given `content`)."""
    spans = told_of(written, content) if content else []
    for period in periods:
        if isinstance(period, int):
            if period in (written.month, (written - _TOLD_WITHIN).month):
                return True
            # A month of any year: what a memory says of a day, week or month, not of a year.
            if any(
                end - start <= timedelta(days=31) and period in (start.month, (end - timedelta(days=1)).month)
                for start, end in spans
            ):
                return True
        elif period[0] <= written < period[1] + _TOLD_WITHIN or any(
            start < period[1] and period[0] < end for start, end in spans
        ):
            return True
    return False
