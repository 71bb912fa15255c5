"""Time expressions in text, resolved to calendar periods: the one grammar that writing (a memory
records the periods its words speak of) and recall (a query names a period; a memory "written in
it or speaking of it" gains) both use. Pure functions: no database, no model.

Two kinds of expression:

- calendar dates, given in full or in part: "8 May, 2023", "May 8th 2023", "May 2023", "2023",
  and a month named alone after a preposition ("in May", "since June", "early March"; "May I
  ask", "I may go" and "March on" are not dates);
- relative ones, resolved against the time the words were said: "yesterday", "today", "the day
  before yesterday", "two weeks ago", "2 wks ago", "a fortnight ago", "a couple of months back",
  "in three days", "last Tuesday" / "last tues", "next Friday", "last week", "the week before
  last", "next month", "last weekend", "last May".

A month named alone takes its year from the time it was said: the latest such month not after it,
or, when its sentence speaks of the future ("will", "going to", "plan", ...), the next one not
before it. "Last <weekday>" is the latest such day before the day it was said (a week back on
that weekday itself), "next <weekday>" the first after it.

How a resolved period is written down (`TimeReference.label`, and a memory's tags as
``when:<label>``, its words left as they are): ISO 8601 for the period's grain: a day
``2023-05-02``, an ISO week ``2023-W17`` ("last week", "two weeks ago": the week of that day), a
month ``2023-05``, a year ``2023``, and an interval of days ``2023-05-06/2023-05-07`` (a weekend).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Grain = Literal["day", "week", "weekend", "month", "year"]
WHEN_TAG = "when:"

MONTHS = {
    name[:n]: number
    for number, name in enumerate(
        "january february march april may june july august september october november december".split(), 1
    )
    for n in (3, len(name))
} | {"sept": 9}
MONTH = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
)
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"((?:19|20)\d\d)"
# Calendar dates, most specific first; what one pattern matched is removed before the next looks.
CALENDAR = [
    ("dmy", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{MONTH},?\s+{_YEAR}\b", re.I)),
    ("mdy", re.compile(rf"\b{MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.I)),
    ("my", re.compile(rf"\b{MONTH},?\s+{_YEAR}\b", re.I)),
    # A month alone only after a preposition: "may" is also a verb, "march" a noun and a verb.
    ("m", re.compile(rf"\b(?:in|during|since|of|early|late|mid)\s+{MONTH}(?!\s*\d)\b", re.I)),
    ("y", re.compile(rf"\b{_YEAR}\b")),
]

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_NUMBER = (
    r"(a\s+couple\s+of|couple\s+of|a\s+couple|an?|one|two|three|four|five|six|seven|eight|nine"
    r"|ten|eleven|twelve|\d{1,3})"
)
_UNIT = r"(days?|weeks?|wks?|months?|mos?|mths?|years?|yrs?|fortnights?)"
_UNITS = {"d": "day", "w": "week", "f": "fortnight", "y": "year"}  # by first letter; "m..." is a month
_WEEKDAY = (
    r"(monday|mon|tuesday|tues|tue|wednesday|weds|wed|thursday|thurs|thur|thu|friday|fri"
    r"|saturday|sat|sunday|sun)\b\.?"
)
_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_PERIOD = r"(week|weekend|month|year)"

# Relative expressions, each tried on what the ones before left of the text.
_RELATIVE = [
    ("day2", re.compile(r"\bthe\s+day\s+(before\s+yesterday|after\s+tomorrow)\b", re.I)),
    ("twice", re.compile(rf"\bthe\s+{_PERIOD}\s+(before\s+last|after\s+next)\b", re.I)),
    ("ago", re.compile(rf"\b{_NUMBER}\s*-?\s*{_UNIT}\s+(?:ago|back)\b", re.I)),
    ("later", re.compile(rf"\b(?:in\s+{_NUMBER}\s*{_UNIT}|{_NUMBER}\s*{_UNIT}\s+from\s+now)\b", re.I)),
    ("day", re.compile(r"\b(yesterday|today|tonight|tomorrow)\b", re.I)),
    ("weekday", re.compile(rf"\b(last|next|this)\s+{_WEEKDAY}", re.I)),
    ("period", re.compile(rf"\b(last|next|this)\s+{_PERIOD}\b", re.I)),
    ("month", re.compile(rf"\b(last|next|this)\s+{MONTH}(?!\s*\d)\b", re.I)),
]
# A sentence that speaks of what is to come: a month named alone in it is the next one.
_FUTURE = re.compile(
    r"\b(will|won't|shall|going\s+to|gonna|plan|plans|planning|planned|intend|intends|hope\s+to|"
    r"next|upcoming|soon|scheduled|can't\s+wait)\b|'ll\b",
    re.I,
)


@dataclass(frozen=True)
class TimeReference:
    """A period some words speak of: [start, end) in UTC, its grain, and how it was found:
    `kind` is "date" (a calendar date given in full), "month" (a month named alone, its year from
    the time said), "ago", "later" ("in three days"), "last", "next", "this" or "day"
    ("yesterday"). `at` is the moment spoken of ("two weeks ago": fourteen days before)."""

    text: str
    start: datetime
    end: datetime
    grain: Grain
    kind: str
    at: datetime

    @property
    def label(self) -> str:
        """The period in ISO 8601 (see the module's docstring)."""
        if self.grain == "day":
            return self.start.strftime("%Y-%m-%d")
        if self.grain == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.grain == "month":
            return self.start.strftime("%Y-%m")
        if self.grain == "year":
            return f"{self.start.year:04d}"
        return f"{self.start:%Y-%m-%d}/{self.end - timedelta(days=1):%Y-%m-%d}"


def calendar_dates(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Each calendar date in `text`: (its kind in CALENDAR, the groups matched), most specific
    first. Impossible dates ("31 February") are left for the caller to refuse."""
    for kind, pattern in CALENDAR:
        for m in pattern.finditer(text):
            yield kind, m.groups()
        text = pattern.sub(" ", text)


def resolve(text: str, said_at: datetime) -> list[TimeReference]:
    """Every period `text` speaks of, relative expressions resolved against `said_at` (a naive
    time is UTC), in the order the grammar finds them."""
    said = said_at if said_at.tzinfo else said_at.replace(tzinfo=UTC)
    said = said.astimezone(UTC)
    found = relative(text, said)
    for ref in found:
        text = text.replace(ref.text, " ")
    for kind, g in calendar_dates(text):
        try:
            found.append(_calendar_reference(kind, g, text, said))
        except (ValueError, KeyError):  # "31 February"
            continue
    return found


def when_tags(text: str, said_at: datetime) -> list[str]:
    """The tags recording the periods `text` speaks of (``when:2023-05-02``), each once."""
    return list(dict.fromkeys(WHEN_TAG + ref.label for ref in resolve(text, said_at)))


def relative(text: str, said: datetime) -> list[TimeReference]:
    """The relative expressions of `text`, resolved against `said` (aware)."""
    found: list[TimeReference] = []
    day = _midnight(said)
    for kind, pattern in _RELATIVE:
        for m in pattern.finditer(text):
            ref = _relative_reference(kind, m, text, said, day)
            if ref is not None:
                found.append(ref)
        text = pattern.sub(" ", text)
    return found


def _relative_reference(
    kind: str, m: re.Match[str], text: str, said: datetime, day: datetime
) -> TimeReference | None:
    words = m[0]
    if kind == "day2":
        back = m[1].lower().startswith("before")
        on = day + timedelta(days=-2 if back else 2)
        return _unit_reference(words, "day", on, "last" if back else "next")
    if kind == "twice":
        back = m[2].lower().startswith("before")
        return _shifted(words, m[1].lower(), -2 if back else 2, said, "last" if back else "next")
    if kind in ("ago", "later"):
        number, unit = (m[1], m[2]) if m[1] is not None else (m[3], m[4])
        n = _count(number)
        unit_name: str = _UNITS.get(unit[0].lower(), "month")
        if unit_name == "fortnight":
            unit_name, n = "week", 2 * n
        sign = -1 if kind == "ago" else 1
        if unit_name in ("day", "week"):
            at = said + timedelta(days=sign * n * (7 if unit_name == "week" else 1))
        elif unit_name == "month":
            at = _add_months(said, sign * n)
        else:
            at = _add_months(said, sign * 12 * n)
        grain: Grain = "day" if unit_name == "day" else "week" if unit_name == "week" else "month"
        return _unit_reference(words, "year" if unit_name == "year" else grain, at, kind)
    if kind == "day":
        shift = {"yesterday": -1, "tomorrow": 1}.get(m[1].lower(), 0)
        return _unit_reference(words, "day", day + timedelta(days=shift), "day")
    which = m[1].lower()
    if kind == "weekday":
        target = _WEEKDAYS.index(m[2].lower()[:3])
        today = said.weekday()
        if which == "last":
            back = (today - target) % 7 or 7
            on = day - timedelta(days=back)
        elif which == "next":
            on = day + timedelta(days=(target - today) % 7 or 7)
        else:  # this: that day of the current week
            on = day + timedelta(days=target - today)
        return _unit_reference(words, "day", on, which)
    if kind == "period":
        return _shifted(words, m[2].lower(), {"last": -1, "next": 1, "this": 0}[which], said, which)
    # last/next/this <month>
    month = MONTHS[m[2].lower().rstrip(".")]
    if which == "last":
        year = said.year if month < said.month else said.year - 1
    elif which == "next":
        year = said.year if month > said.month else said.year + 1
    else:
        year = _year_of_month(month, said, _future(text, m.start()))
    start = datetime(year, month, 1, tzinfo=UTC)
    return TimeReference(words, start, _add_months(start, 1), "month", which, start)


def _shifted(words: str, period: str, steps: int, said: datetime, kind: str) -> TimeReference:
    """The week, weekend, month or year `steps` away from the one `said` is in."""
    day = _midnight(said)
    if period == "week":
        return _unit_reference(words, "week", day + timedelta(weeks=steps), kind)
    if period == "weekend":
        # This week's Saturday (weeks start on Monday): "last weekend" said on a Sunday is the one
        # before, as it is on a weekday.
        saturday = day + timedelta(days=5 - said.weekday(), weeks=steps)
        return TimeReference(words, saturday, saturday + timedelta(days=2), "weekend", kind, saturday)
    if period == "month":
        return _unit_reference(words, "month", _add_months(said, steps), kind)
    return _unit_reference(words, "year", _add_months(said, 12 * steps), kind)


def _unit_reference(words: str, grain: Grain, at: datetime, kind: str) -> TimeReference:
    """The day, ISO week, month or year that `at` is in."""
    day = _midnight(at)
    if grain == "day":
        start, end = day, day + timedelta(days=1)
    elif grain == "week":
        start = day - timedelta(days=at.weekday())
        end = start + timedelta(weeks=1)
    elif grain == "month":
        start = datetime(at.year, at.month, 1, tzinfo=UTC)
        end = _add_months(start, 1)
    else:
        start, end = datetime(at.year, 1, 1, tzinfo=UTC), datetime(at.year + 1, 1, 1, tzinfo=UTC)
    return TimeReference(words, start, end, grain, kind, at)


def _calendar_reference(kind: str, g: tuple[str, ...], text: str, said: datetime) -> TimeReference:
    words = " ".join(x for x in g if x)
    if kind in ("dmy", "mdy"):
        day, month = (g[0], g[1]) if kind == "dmy" else (g[1], g[0])
        start = datetime(int(g[2]), MONTHS[month.lower()], int(day), tzinfo=UTC)
        return TimeReference(words, start, start + timedelta(days=1), "day", "date", start)
    if kind == "my":
        start = datetime(int(g[1]), MONTHS[g[0].lower()], 1, tzinfo=UTC)
        return TimeReference(words, start, _add_months(start, 1), "month", "date", start)
    if kind == "m":
        named = MONTHS[g[0].lower()]
        position = text.lower().find(g[0].lower())
        start = datetime(_year_of_month(named, said, _future(text, position)), named, 1, tzinfo=UTC)
        return TimeReference(words, start, _add_months(start, 1), "month", "month", start)
    start = datetime(int(g[0]), 1, 1, tzinfo=UTC)
    return TimeReference(words, start, datetime(start.year + 1, 1, 1, tzinfo=UTC), "year", "date", start)


def _year_of_month(month: int, said: datetime, future: bool) -> int:
    """The year of a month named alone: the latest not after `said`'s, or the next not before."""
    if future:
        return said.year if month >= said.month else said.year + 1
    return said.year if month <= said.month else said.year - 1


def _future(text: str, position: int) -> bool:
    """Whether the sentence around `position` speaks of what is to come."""
    start = max(text.rfind(stop, 0, max(position, 0)) for stop in ".!?\n") + 1
    ends = [i for i in (text.find(stop, position) for stop in ".!?\n") if i >= 0]
    return _FUTURE.search(text[start : min(ends, default=len(text))]) is not None


def _count(number: str) -> int:
    word = " ".join(number.lower().split())
    if "couple" in word:
        return 2
    return _NUMBERS.get(word) or int(word)


def _midnight(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _add_months(at: datetime, months: int) -> datetime:
    """`at` moved by whole months, its day kept within the month (31 Mar - 1 month = 28/29 Feb)."""
    index = at.year * 12 + at.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = datetime(year + (month // 12), month % 12 + 1, 1, tzinfo=at.tzinfo)
    last_day = (following - timedelta(days=1)).day
    return at.replace(year=year, month=month, day=min(at.day, last_day))
