"""The one grammar of time expressions (framework.memory.timeexpr): relative ones resolved against
when the words were said, odd spellings included; words that only look like dates left alone; and
the query side of recall (relevance.told_of, relevance.periods) reading the same grammar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from framework.memory.longterm.relevance import periods, told_of
from framework.memory.timeexpr import resolve, when_tags

SAID = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("Ada adopted a cat yesterday", ["2023-05-07"]),
        ("the day before yesterday", ["2023-05-06"]),
        ("I went there last Tuesday", ["2023-05-02"]),
        ("last tues was fun", ["2023-05-02"]),
        ("last Monday", ["2023-05-01"]),  # said on a Monday: a week back
        ("next Fri", ["2023-05-12"]),
        ("two weeks ago", ["2023-W17"]),
        ("2 wks ago", ["2023-W17"]),
        ("a fortnight ago", ["2023-W17"]),
        ("the week before last", ["2023-W17"]),
        ("last week", ["2023-W18"]),
        ("3 days ago", ["2023-05-05"]),
        ("a couple of months back", ["2023-03"]),
        ("the month before last", ["2023-03"]),
        ("next month", ["2023-06"]),
        ("in three days", ["2023-05-11"]),
        ("last weekend", ["2023-05-06/2023-05-07"]),
        ("last year", ["2022"]),
        ("ten years ago", ["2013"]),
        ("I went to Paris in May", ["2023-05"]),
        ("We met in August", ["2022-08"]),  # the latest August not after the time said
        ("I'm going to Rome in August", ["2023-08"]),  # the sentence speaks of the future
        ("last May", ["2022-05"]),
        ("since March", ["2023-03"]),
        ("On 8 May, 2023 we met", ["2023-05-08"]),
        ("We moved in June 2021; two years ago, yes", ["2021", "2021-06"]),
    ],
)
def test_an_expression_is_resolved_against_when_it_was_said(text: str, labels: list[str]) -> None:
    assert sorted(tag.removeprefix("when:") for tag in when_tags(text, SAID)) == sorted(labels)


@pytest.mark.parametrize(
    "text",
    [
        "May I ask you something?",
        "I may go tomorrowish",
        "March on, friends",
        "We may march in step",
        "Sunday",
    ],
)
def test_words_that_only_look_like_dates_are_left_alone(text: str) -> None:
    assert resolve(text, SAID) == []


def test_a_reference_says_what_it_read_and_the_period_it_means() -> None:
    [ref] = resolve("we met a fortnight ago", SAID)
    assert ref.text == "a fortnight ago" and ref.kind == "ago" and ref.grain == "week"
    assert (ref.start, ref.end) == (datetime(2023, 4, 24, tzinfo=UTC), datetime(2023, 5, 1, tzinfo=UTC))
    naive = resolve("yesterday", SAID.replace(tzinfo=None))[0]  # a naive time is UTC
    assert naive.label == "2023-05-07"


def test_recall_reads_the_same_grammar() -> None:
    # what a memory speaks of: a month or year ago is the calendar one; days and weeks give or take
    assert told_of(SAID, "we moved last month") == [
        (datetime(2023, 4, 1, tzinfo=UTC), datetime(2023, 5, 1, tzinfo=UTC))
    ]
    assert told_of(SAID, "2 wks ago") == told_of(SAID, "two weeks ago") == told_of(SAID, "a fortnight ago")
    assert told_of(SAID, "yesterday") == []  # within the week a memory is told in: already near
    # what a query names: a month named alone is of any year; "May I" is no month
    assert periods("what did Ada do in May?") == [5]
    assert periods("May I ask what Ada did on 8 May, 2023?") == [
        (datetime(2023, 5, 8, tzinfo=UTC), datetime(2023, 5, 9, tzinfo=UTC))
    ]
