"""Time words in queries (domain/time_words.py): a table of phrases read on a fixed day, and properties that hold
for any words."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaindex.domain.expressions import text_tokens
from mediaindex.domain.time_words import TimeCondition, TimeWords, read_time_words

TODAY = date(2026, 12, 7)  # a Monday


def rng(since, before):
    return ("range", since, before)


def months(*ms):
    return ("months", ms)


def days(*ds):
    return ("days", ds)


def shape(c: TimeCondition):
    if c.months:
        return months(*c.months)
    if c.days:
        return days(*c.days)
    return rng(c.since, c.before)


def read(query: str, today: date = TODAY) -> TimeWords:
    return read_time_words(text_tokens(query), today)


# query -> the conditions read, in order
CASES = [
    # years
    ("2019", [rng("2019-01-01", "2020-01-01")]),
    ("dog 2019 beach", [rng("2019-01-01", "2020-01-01")]),
    ("1826", [rng("1826-01-01", "1827-01-01")]),
    ("2027", [rng("2027-01-01", "2028-01-01")]),  # next year still counts
    ("1825", []), ("2028", []), ("1000", []), ("5000", []), ("2", []), ("19", []), ("2019a", []), ("a2019", []),
    ("img_2019", [rng("2019-01-01", "2020-01-01")]),  # "_" separates words: 2019 is a word of its own
    # months
    ("december 2019", [rng("2019-12-01", "2020-01-01")]),
    ("dec 2019", [rng("2019-12-01", "2020-01-01")]),
    ("december of 2019", [rng("2019-12-01", "2020-01-01")]),
    ("in may 2020", [rng("2020-05-01", "2020-06-01")]),
    ("sept 2021", [rng("2021-09-01", "2021-10-01")]),
    ("february 2024", [rng("2024-02-01", "2024-03-01")]),
    ("december", [months(12)]),
    ("march", [months(3)]),
    ("may", []), ("dec", []), ("jan", []), ("jan smith", []),
    ("2020 may", [rng("2020-01-01", "2021-01-01"), months(5)]),  # ANDed: may 2020
    # seasons, northern hemisphere
    ("summer 2020", [rng("2020-06-01", "2020-09-01")]),
    ("summer of 2020", [rng("2020-06-01", "2020-09-01")]),
    ("winter 2020", [rng("2020-12-01", "2021-03-01")]),
    ("spring 2021", [rng("2021-03-01", "2021-06-01")]),
    ("autumn 2021", [rng("2021-09-01", "2021-12-01")]),
    ("fall 2021", [rng("2021-09-01", "2021-12-01")]),
    ("summer", [months(6, 7, 8)]),
    ("winter", [months(12, 1, 2)]),
    ("autumn", [months(9, 10, 11)]),
    ("fall", []),  # alone, more often a verb or a waterfall
    # named days
    ("christmas", [days("12-25")]),
    ("xmas", [days("12-25")]),
    ("christmas eve", [days("12-24")]),
    ("christmas 2019", [rng("2019-12-25", "2019-12-26")]),
    ("christmas eve 2019", [rng("2019-12-24", "2019-12-25")]),
    ("new year's eve", [days("12-31")]),
    ("new years eve 2019", [rng("2019-12-31", "2020-01-01")]),
    ("new year's day", [days("01-01")]),
    ("new year", [days("01-01")]),
    ("new year 2020", [rng("2020-01-01", "2020-01-02")]),
    ("halloween", [days("10-31")]),
    ("valentine's day", [days("02-14")]),
    ("valentines 2022", [rng("2022-02-14", "2022-02-15")]),
    ("valentine", []),
    ("st patrick's day", [days("03-17")]),
    ("4th of july", [days("07-04")]),
    ("boxing day", [days("12-26")]),
    ("easter 2024", [rng("2024-03-31", "2024-04-01")]),
    ("easter 2019", [rng("2019-04-21", "2019-04-22")]),
    ("easter", []),
    ("thanksgiving 2024", [rng("2024-11-28", "2024-11-29")]),
    # day and month
    ("25 december 2019", [rng("2019-12-25", "2019-12-26")]),
    ("december 25 2019", [rng("2019-12-25", "2019-12-26")]),
    ("25th of december", [days("12-25")]),
    ("dec 25th", [days("12-25")]),
    ("29 february", [days("02-29")]),
    ("30 february", [months(2)]),  # no such day: the month is still read
    ("2019 06 01", [rng("2019-06-01", "2019-06-02")]),  # "2019-06-01"
    ("2019 06", [rng("2019-06-01", "2019-07-01")]),
    # relative to today (Monday 2026-12-07)
    ("today", [rng("2026-12-07", "2026-12-08")]),
    ("yesterday", [rng("2026-12-06", "2026-12-07")]),
    ("this year", [rng("2026-01-01", "2027-01-01")]),
    ("last year", [rng("2025-01-01", "2026-01-01")]),
    ("this month", [rng("2026-12-01", "2027-01-01")]),
    ("last month", [rng("2026-11-01", "2026-12-01")]),
    ("this week", [rng("2026-12-07", "2026-12-14")]),
    ("last week", [rng("2026-11-30", "2026-12-07")]),
    ("this weekend", [rng("2026-12-12", "2026-12-14")]),
    ("last weekend", [rng("2026-12-05", "2026-12-07")]),
    ("last summer", [rng("2026-06-01", "2026-09-01")]),
    ("last winter", [rng("2025-12-01", "2026-03-01")]),  # winter 2026 has only begun
    ("this winter", [rng("2026-12-01", "2027-03-01")]),
    ("last spring", [rng("2026-03-01", "2026-06-01")]),
    ("last autumn", [rng("2026-09-01", "2026-12-01")]),
    ("last fall", [rng("2026-09-01", "2026-12-01")]),
    ("this summer", [rng("2026-06-01", "2026-09-01")]),
    ("last december", [rng("2025-12-01", "2026-01-01")]),
    ("last may", [rng("2026-05-01", "2026-06-01")]),
    ("previous summer", [rng("2026-06-01", "2026-09-01")]),
    ("previous year", [rng("2025-01-01", "2026-01-01")]),
    ("past summer", [months(6, 7, 8)]),  # "past" is only for lengths of time: summer alone
    ("2 years ago", [rng("2024-01-01", "2025-01-01")]),
    ("two years ago", [rng("2024-01-01", "2025-01-01")]),
    ("a year ago", [rng("2025-01-01", "2026-01-01")]),
    ("3 months ago", [rng("2026-09-01", "2026-10-01")]),
    ("a week ago", [rng("2026-11-30", "2026-12-07")]),
    ("10 days ago", [rng("2026-11-27", "2026-11-28")]),
    ("last 3 months", [rng("2026-09-07", "2026-12-08")]),
    ("past 2 years", [rng("2024-12-07", "2026-12-08")]),
    ("past year", [rng("2025-12-07", "2026-12-08")]),
    ("past week", [rng("2026-11-30", "2026-12-08")]),
    ("500 years ago", []),
    # decades
    ("1990s", [rng("1990-01-01", "2000-01-01")]),
    ("90s", [rng("1990-01-01", "2000-01-01")]),
    ("00s", [rng("2000-01-01", "2010-01-01")]),
    ("2020s", [rng("2020-01-01", "2030-01-01")]),
    ("nineties", [rng("1990-01-01", "2000-01-01")]),
    ("20s", []), ("30s", []), ("1000s", []),
    # ranges
    ("2018 to 2020", [rng("2018-01-01", "2021-01-01")]),
    ("from 2018 to 2020", [rng("2018-01-01", "2021-01-01")]),
    ("between 2018 and 2020", [rng("2018-01-01", "2021-01-01")]),
    ("between 2020 and 2018", [rng("2018-01-01", "2021-01-01")]),
    ("2018-2020", [rng("2018-01-01", "2019-01-01"), rng("2020-01-01", "2021-01-01")]),  # the dash is lost
    ("may 2019 until june 2020", [rng("2019-05-01", "2020-07-01")]),
    ("june to august", [months(6, 7, 8)]),
    ("december to february", [months(12, 1, 2)]),
    ("june to december 2020", [rng("2020-06-01", "2021-01-01")]),
    ("november 2019 to february", [rng("2019-11-01", "2020-03-01")]),
    ("summer 2019 to winter 2020", [rng("2019-06-01", "2021-03-01")]),
    ("since 2019", [rng("2019-01-01", None)]),
    ("after 2019", [rng("2020-01-01", None)]),
    ("before 2019", [rng(None, "2019-01-01")]),
    ("until 2019", [rng(None, "2020-01-01")]),
    ("since last summer", [rng("2026-06-01", None)]),
    ("since june", [months(6)]),  # "since" needs a date with a year
    ("between 2018", [rng("2018-01-01", "2019-01-01")]),
    ("from 2019", [rng("2019-01-01", "2020-01-01")]),
    # more than one phrase
    ("christmas 2019 dog", [rng("2019-12-25", "2019-12-26")]),
    ("summer beach 2019", [months(6, 7, 8), rng("2019-01-01", "2020-01-01")]),
    ("dog", []), ("", []),
]


@pytest.mark.parametrize("query,expected", CASES)
def test_time_phrases(query, expected):
    assert [shape(c) for c in read(query).conditions] == expected


def test_the_spans_are_the_words_used_and_the_phrase_as_written():
    found = read("dogs at christmas 2019 on the beach")
    assert found.spans == [(2, 4)]
    assert found.conditions == [TimeCondition(since="2019-12-25", before="2019-12-26", phrase="christmas 2019")]
    found = read("Party on New Year's Eve, 2019 and summer")
    assert text_tokens("Party on New Year's Eve, 2019 and summer")[2:7] == ["new", "year", "s", "eve", "2019"]
    assert found.spans == [(2, 7), (8, 9)]
    assert [c.phrase for c in found.conditions] == ["new year's eve 2019", "summer"]


def test_each_condition_has_exactly_one_kind():
    for query, _ in CASES:
        for c in read(query).conditions:
            kinds = [c.since is not None or c.before is not None, bool(c.months), bool(c.days)]
            assert sum(kinds) == 1, (query, c)


def test_seasons_and_relative_days_follow_today():
    assert [shape(c) for c in read("last summer", date(2026, 8, 31)).conditions] == [rng("2025-06-01", "2025-09-01")]
    assert [shape(c) for c in read("last summer", date(2026, 9, 1)).conditions] == [rng("2026-06-01", "2026-09-01")]
    assert [shape(c) for c in read("this winter", date(2026, 2, 10)).conditions] == [rng("2025-12-01", "2026-03-01")]
    assert [shape(c) for c in read("last winter", date(2026, 3, 1)).conditions] == [rng("2025-12-01", "2026-03-01")]
    assert [shape(c) for c in read("last month", date(2026, 1, 15)).conditions] == [rng("2025-12-01", "2026-01-01")]
    assert [shape(c) for c in read("last 1 month", date(2026, 3, 31)).conditions] == [rng("2026-02-28", "2026-04-01")]
    assert [shape(c) for c in read("yesterday", date(2026, 1, 1)).conditions] == [rng("2025-12-31", "2026-01-01")]
    assert [shape(c) for c in read("2027", date(2026, 1, 1)).conditions] == [rng("2027-01-01", "2028-01-01")]
    assert read("2027", date(2025, 1, 1)).conditions == []


WORDS = st.sampled_from([
    "2019", "2020", "1826", "1825", "2027", "99", "90s", "1990s", "20s", "dec", "december", "may", "june", "summer",
    "winter", "fall", "christmas", "eve", "new", "year", "years", "s", "day", "days", "week", "month", "months",
    "ago", "last", "this", "past", "two", "a", "2", "25", "25th", "of", "in", "to", "and", "between", "from", "since",
    "before", "after", "until", "today", "yesterday", "weekend", "easter", "06", "01", "31", "february", "29", "dog",
    "valentine", "200", "0", "00s", "1000", "999999999999999999999",
])


def check(found: TimeWords, words: list[str]) -> None:
    assert len(found.spans) == len(found.conditions)
    end = 0
    for (a, b), c in zip(found.spans, found.conditions):
        assert end <= a < b <= len(words)
        end = b
        assert c.phrase
        if c.since is not None and c.before is not None:
            assert c.since < c.before
        for iso in (c.since, c.before):
            if iso is not None:
                date.fromisoformat(iso)
        assert all(1 <= m <= 12 for m in c.months)


@settings(max_examples=400, deadline=None)
@given(st.lists(WORDS, max_size=8), st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_any_time_words_give_ordered_spans_and_ranges(words, today):
    check(read_time_words(words, today), words)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=8), st.dates())
def test_never_raises_on_any_words(words, today):
    check(read_time_words(words, today), words)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_never_raises_on_any_query(text):
    words = text_tokens(text)
    check(read_time_words(words, TODAY), words)
