"""Time words in a search: "2019", "december 2019", "summer", "christmas", "last summer", "2 years ago",
"between 2018 and 2020". docs/dates.md lists them all.

`read_time_words(words, today)` reads a query's words (lower case, accents removed, as `text_tokens` makes them:
"new year's eve" is new, year, s, eve) and returns the phrases it understood: their positions, so the caller drops
them from the free text, and one `TimeCondition` per phrase, which the caller ANDs. A condition is one of

- a range of `taken_at`: `since` (inclusive) and/or `before` (exclusive), ISO dates ("2019-06-01");
- `months`: months of any year (1-12): "december", "summer" without a year;
- `days`: month-days of any year ("12-25"): "christmas" without a year.

Rules worth knowing:

- A year is four digits from 1826 (the oldest photograph) to next year: "1000", "5000", "2" and "2019a" are words.
- "may" and the abbreviations ("jan", "dec", "sept"...) are months only beside a year or a day number, or after
  this/last ("may 2020", "2020 may", "5 may", "dec 25", "last may"): alone they are words (and names).
  Full month names are months alone too ("december").
- Seasons are the northern hemisphere's meteorological ones: spring March-May, summer June-August, autumn (fall)
  September-November, winter December-February; winter 2020 is 2020-12-01 to 2021-03-01. "fall" is a season only
  with a year or after this/last.
- A named day is that one day: "christmas" is December 25 (its eve is "christmas eve"), "christmas 2019" is
  2019-12-25 only. "easter" and "thanksgiving" (US) move, so they count only with a year.
- Relative words are from `today`: "today", "yesterday", "this/last/previous year|month|week|weekend" (calendar ones;
  weeks start on Monday), "this summer" (the latest that has begun), "last summer" (the latest that has ended;
  any season or month name works: "last december"), "2 years ago" / "two years ago" (that calendar year; months,
  weeks and days likewise), "last 3 months" / "past 3 months" / "past year" (from that long before today to the end
  of today).
- Decades: "1990s", "90s" ("50s" to "90s" are the 1900s'; "00s" and "10s" are the 2000s and 2010s; "20s" to
  "40s" are left alone, they are more often ages), "nineties".
- Ranges: "2018 to 2020", "from 2018 to 2020", "between 2018 and 2020" (both ends whole: 2018-01-01 to 2021-01-01;
  given backwards, they are put in order), "may 2019 until june 2020", "june to august" (months: 6, 7, 8),
  "since 2019", "after 2019" (from 2020), "before 2019", "until 2019" (to the end of 2019). "2018-2020" reaches us as
  "2018 2020", without the dash: two years, which match nothing together.
- "2019 06" and "2019 06 01" (what "2019-06-01" becomes as words) are that month and that day.

Pure: the standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Union

OLDEST_YEAR = 1826  # the oldest surviving photograph

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
}
MONTH_ABBREVIATIONS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10,
    "nov": 11, "dec": 12,
}
# a month only beside a year or a day number, or after this/last: alone they are ordinary words or names
AMBIGUOUS_MONTHS = frozenset({"may", *MONTH_ABBREVIATIONS})
# (first month, months long); northern hemisphere, meteorological
SEASONS = {"spring": (3, 3), "summer": (6, 3), "autumn": (9, 3), "fall": (9, 3), "winter": (12, 3)}
AMBIGUOUS_SEASONS = frozenset({"fall"})

# Named days of every year, as month-day; a phrase is its words as `text_tokens` gives them
NAMED_DAYS: dict[tuple[str, ...], str] = {}
for _phrases, _day in (
    (("christmas eve", "xmas eve"), "12-24"),
    (("christmas", "christmas day", "xmas", "xmas day"), "12-25"),
    (("boxing day",), "12-26"),
    (("new year s eve", "new years eve", "new year eve", "hogmanay"), "12-31"),
    (("new year", "new years", "new year s", "new year s day", "new years day", "new year day"), "01-01"),
    (("halloween",), "10-31"),
    (("valentine s day", "valentines day", "valentine day", "valentines", "valentine s"), "02-14"),
    (("st patrick s day", "saint patrick s day", "st patricks day", "saint patricks day", "st patrick day"), "03-17"),
    (("fourth of july", "4th of july"), "07-04"),
    (("bastille day",), "07-14"),
    (("bonfire night", "guy fawkes night"), "11-05"),
):
    for _named in _phrases:
        NAMED_DAYS[tuple(_named.split())] = _day
_NAMED_LONGEST = sorted(NAMED_DAYS, key=len, reverse=True)
MOVABLE_DAYS = ("easter", "thanksgiving")  # only with a year

NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50,
}
UNITS = {"day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month", "months": "month",
         "year": "year", "years": "year"}
DECADE_WORDS = {"thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960, "seventies": 1970,
                "eighties": 1980, "nineties": 1990}
CONNECTORS = ("of", "in")  # "summer of 2020", "christmas in 2019"
RANGE_WORDS = ("to", "until", "till", "through", "thru")
MAX_COUNT = 200  # "N units ago": anything more is not a time phrase

_YEAR = re.compile(r"[0-9]{4}")
_DAY = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th)?")
_TWO_DIGITS = re.compile(r"[0-9]{2}")
_NUMBER = re.compile(r"[0-9]{1,3}")
_DECADE = re.compile(r"([0-9]{2})?([0-9])0s")


@dataclass(frozen=True)
class TimeCondition:
    """One time phrase as a condition on `taken_at`. Exactly one kind is set: a range (`since` inclusive and/or
    `before` exclusive, ISO dates), `months` (1-12, any year) or `days` ("MM-DD", any year). `phrase` is the
    words read, for messages."""

    since: str | None = None
    before: str | None = None
    months: tuple[int, ...] = ()
    days: tuple[str, ...] = ()
    phrase: str = ""


@dataclass(frozen=True)
class TimeWords:
    """The time phrases of a query: `spans[i]` is the [start, end) of the words of `conditions[i]`."""

    spans: list[tuple[int, int]] = field(default_factory=list)
    conditions: list[TimeCondition] = field(default_factory=list)


# what a phrase means before it becomes a TimeCondition
@dataclass(frozen=True)
class _Range:
    start: date | None
    end: date | None  # exclusive


@dataclass(frozen=True)
class _Months:
    months: tuple[int, ...]


@dataclass(frozen=True)
class _Days:
    days: tuple[str, ...]


_Meaning = Union[_Range, _Months, _Days]
_Hit = tuple[int, _Meaning]  # (the end of the phrase's words, its meaning)


def read_time_words(words: list[str], today: date) -> TimeWords:
    """The time phrases in `words` (a query's `text_tokens`), read left to right, each the longest that starts
    where it does. Never raises: words it does not understand are left to the caller."""
    spans: list[tuple[int, int]] = []
    conditions: list[TimeCondition] = []
    reader = _Reader([w if isinstance(w, str) else "" for w in words], today)
    i = 0
    while i < len(reader.words):
        hit = reader.phrase(i)
        if hit is None or hit[0] <= i:
            i += 1
            continue
        end, meaning = hit
        condition = _condition(meaning, _phrase(reader.words[i:end]))
        if condition is not None:
            spans.append((i, end))
            conditions.append(condition)
        i = end
    return TimeWords(spans, conditions)


def _phrase(words: list[str]) -> str:
    # "new year s eve" -> "new year's eve"
    out: list[str] = []
    for w in words:
        if w == "s" and out:
            out[-1] += "'s"
        else:
            out.append(w)
    return " ".join(out)


def _condition(meaning: _Meaning, phrase: str) -> TimeCondition | None:
    if isinstance(meaning, _Range):
        if meaning.start is None and meaning.end is None:
            return None
        if meaning.start is not None and meaning.end is not None and meaning.start >= meaning.end:
            return None
        return TimeCondition(since=meaning.start.isoformat() if meaning.start else None,
                             before=meaning.end.isoformat() if meaning.end else None, phrase=phrase)
    if isinstance(meaning, _Months):
        return TimeCondition(months=meaning.months, phrase=phrase) if meaning.months else None
    return TimeCondition(days=meaning.days, phrase=phrase) if meaning.days else None


def _add_months(day: date, n: int) -> date:
    """`day` moved by n months, its day of the month kept where the month has it (else the month's last)."""
    y, m = divmod(day.year * 12 + day.month - 1 + n, 12)
    m += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(y, m, min(day.day, d))
        except ValueError:
            continue
    raise ValueError("no such month")


def _period(year: int, first: int, length: int) -> _Range:
    start = date(year, first, 1)
    return _Range(start, _add_months(start, length))


def _months_of(first: int, length: int) -> tuple[int, ...]:
    return tuple((first - 1 + k) % 12 + 1 for k in range(length))


class _Reader:
    def __init__(self, words: list[str], today: date) -> None:
        self.words = words
        self.today = today

    # ---- small readers -----------------------------------------------------------------------------------------
    def word(self, i: int) -> str:
        return self.words[i] if 0 <= i < len(self.words) else ""

    def year(self, i: int) -> int | None:
        w = self.word(i)
        if _YEAR.fullmatch(w) and OLDEST_YEAR <= int(w) <= self.today.year + 1:
            return int(w)
        return None

    def year_after(self, i: int) -> tuple[int, int] | None:
        """A year at i, or after a connector ("of 2020"): (end, year)."""
        y = self.year(i)
        if y is not None:
            return i + 1, y
        if self.word(i) in CONNECTORS:
            y = self.year(i + 1)
            if y is not None:
                return i + 2, y
        return None

    def day_number(self, i: int) -> int | None:
        m = _DAY.fullmatch(self.word(i))
        if m and 1 <= int(m.group(1)) <= 31:
            return int(m.group(1))
        return None

    def month(self, i: int) -> int | None:
        w = self.word(i)
        return MONTHS.get(w) or MONTH_ABBREVIATIONS.get(w)

    def count(self, i: int) -> int | None:
        w = self.word(i)
        if _NUMBER.fullmatch(w):
            n = int(w)
        else:
            n = NUMBER_WORDS.get(w, 0)
        return n if 1 <= n <= MAX_COUNT else None

    # ---- a phrase ----------------------------------------------------------------------------------------------
    def phrase(self, i: int) -> _Hit | None:
        for reader in (self.bounded_range, self.open_range, self.point_range, self.point):
            try:
                hit = reader(i)
            except (ValueError, OverflowError):  # a date out of the calendar: not a time phrase
                hit = None
            if hit is not None:
                return hit
        return None

    def bounded_range(self, i: int) -> _Hit | None:
        """between P and Q; from P to Q"""
        w = self.word(i)
        if w not in ("between", "from"):
            return None
        first = self.point(i + 1)
        if first is None:
            return None
        link = self.word(first[0])
        if (w == "between" and link != "and") or (w == "from" and link not in RANGE_WORDS):
            return None
        return self.up_to(first)

    def open_range(self, i: int) -> _Hit | None:
        """since P; after P; before P; until P"""
        w = self.word(i)
        if w not in ("since", "after", "before", "until", "till"):
            return None
        hit = self.point(i + 1)
        if hit is None or not isinstance(hit[1], _Range) or hit[1].start is None or hit[1].end is None:
            return None
        span = hit[1]
        meaning = {"since": _Range(span.start, None), "after": _Range(span.end, None),
                   "before": _Range(None, span.start)}.get(w, _Range(None, span.end))
        return hit[0], meaning

    def point_range(self, i: int) -> _Hit | None:
        """P to Q"""
        first = self.point(i)
        if first is None or self.word(first[0]) not in RANGE_WORDS:
            return None
        return self.up_to(first)

    def up_to(self, first: _Hit) -> _Hit | None:
        """The range from the point `first` to the point after the linking word that follows it."""
        second = self.point(first[0] + 1)
        if second is None:
            return None
        joined = _join(first[1], second[1])
        return (second[0], joined) if joined is not None else None

    def point(self, i: int) -> _Hit | None:
        """One time phrase that is not a range of two: the longest that starts at i."""
        for reader in (self.relative, self.named_day, self.day_and_month, self.period_of_year, self.numeric_date,
                       self.year_alone, self.decade, self.period_alone):
            try:
                hit = reader(i)
            except (ValueError, OverflowError):  # a date out of the calendar ("31 february"): not this reading
                hit = None
            if hit is not None:
                return hit
        return None

    # ---- relative to today ------------------------------------------------------------------------------------
    def relative(self, i: int) -> _Hit | None:
        today, w, nxt = self.today, self.word(i), self.word(i + 1)
        if w == "today":
            return i + 1, _Range(today, today + timedelta(days=1))
        if w == "yesterday":
            return i + 1, _Range(today - timedelta(days=1), today)
        if w in ("this", "last", "previous", "past"):
            hit = self.relative_after(i, w, nxt)
            if hit is not None:
                return hit
        n = self.count(i)
        unit = UNITS.get(nxt)
        if n is not None and unit is not None and self.word(i + 2) == "ago":
            return i + 3, self.calendar(unit, -n)
        return None

    def relative_after(self, i: int, w: str, nxt: str) -> _Hit | None:
        today = self.today
        rolling = w in ("past", "last")
        n = self.count(i + 1)
        if rolling and n is not None and nxt not in ("a", "an") and UNITS.get(self.word(i + 2)):
            # last 3 months, past 2 years: from that long before today to the end of today
            return i + 3, _Range(self.back(UNITS[self.word(i + 2)], n), today + timedelta(days=1))
        unit = UNITS.get(nxt) if nxt in ("day", "week", "month", "year") else None
        if unit is not None and unit != "day":
            if w == "past":
                return i + 2, _Range(self.back(unit, 1), today + timedelta(days=1))
            return i + 2, self.calendar(unit, 0 if w == "this" else -1)
        if nxt == "weekend" and w != "past":
            # Saturday and Sunday of this week (from Monday), or of the week before
            saturday = today - timedelta(days=today.weekday()) + timedelta(days=5 if w == "this" else -2)
            return i + 2, _Range(saturday, saturday + timedelta(days=2))
        if w != "past":
            month = self.month(i + 1)
            period = SEASONS.get(nxt) or ((month, 1) if month else None)
            if period is not None:
                return i + 2, self.recent(period[0], period[1], complete=(w != "this"))
        return None

    def calendar(self, unit: str, n: int) -> _Range:
        """The calendar day, week (from Monday), month or year n units from today's (n <= 0)."""
        today = self.today
        if unit == "day":
            day = today + timedelta(days=n)
            return _Range(day, day + timedelta(days=1))
        if unit == "week":
            monday = today - timedelta(days=today.weekday()) + timedelta(weeks=n)
            return _Range(monday, monday + timedelta(weeks=1))
        if unit == "month":
            start = _add_months(today.replace(day=1), n)
            return _Range(start, _add_months(start, 1))
        year = today.year + n
        if year < OLDEST_YEAR:
            raise ValueError("before photography")
        return _Range(date(year, 1, 1), date(year + 1, 1, 1))

    def back(self, unit: str, n: int) -> date:
        today = self.today
        if unit == "day":
            return today - timedelta(days=n)
        if unit == "week":
            return today - timedelta(weeks=n)
        return _add_months(today, -n * (12 if unit == "year" else 1))

    def recent(self, first: int, length: int, complete: bool) -> _Range:
        """The latest period of `length` months from month `first` that has begun (complete: that has ended)."""
        year = self.today.year
        while year >= OLDEST_YEAR:
            span = _period(year, first, length)
            assert span.start is not None and span.end is not None
            if (span.end if complete else span.start) <= self.today:
                return span
            year -= 1
        raise ValueError("before photography")

    # ---- absolute ---------------------------------------------------------------------------------------------
    def named_day(self, i: int) -> _Hit | None:
        for words in _NAMED_LONGEST:
            if tuple(self.words[i:i + len(words)]) == words:
                end = i + len(words)
                month_day = NAMED_DAYS[words]
                year = self.year_after(end)
                if year is not None:
                    day = date.fromisoformat(f"{year[1]}-{month_day}")
                    return year[0], _Range(day, day + timedelta(days=1))
                return end, _Days((month_day,))
        if self.word(i) in MOVABLE_DAYS:
            year = self.year_after(i + 1)
            if year is not None:
                day = _easter(year[1]) if self.word(i) == "easter" else _thanksgiving(year[1])
                return year[0], _Range(day, day + timedelta(days=1))
        return None

    def day_and_month(self, i: int) -> _Hit | None:
        """25 december [2019]; 25th of dec [2019]; december 25 [2019]"""
        day, month = self.day_number(i), None
        if day is not None:
            j = i + 2 if self.word(i + 1) == "of" else i + 1
            month = self.month(j)
            end = j + 1
        else:
            month = self.month(i)
            day = self.day_number(i + 1) if month is not None else None
            end = i + 2
        if day is None or month is None:
            return None
        year = self.year_after(end)
        if year is not None:
            when = date(year[1], month, day)
            return year[0], _Range(when, when + timedelta(days=1))
        date(2000, month, day)  # a day some year has (february 29 too)
        return end, _Days((f"{month:02d}-{day:02d}",))

    def period_of_year(self, i: int) -> _Hit | None:
        """december 2019; dec of 2019; summer 2020; winter 2020 (to the end of february 2021)"""
        w = self.word(i)
        month = self.month(i)
        period = SEASONS.get(w) or ((month, 1) if month else None)
        if period is None:
            return None
        year = self.year_after(i + 1)
        if year is None:
            return None
        return year[0], _period(year[1], *period)

    def numeric_date(self, i: int) -> _Hit | None:
        """2019 06 and 2019 06 01, as "2019-06" and "2019-06-01" reach us"""
        year = self.year(i)
        if year is None or not _TWO_DIGITS.fullmatch(self.word(i + 1)) or not 1 <= int(self.word(i + 1)) <= 12:
            return None
        month = int(self.word(i + 1))
        if _TWO_DIGITS.fullmatch(self.word(i + 2)):
            try:
                day = date(year, month, int(self.word(i + 2)))
                return i + 3, _Range(day, day + timedelta(days=1))
            except ValueError:
                pass
        return i + 2, _period(year, month, 1)

    def year_alone(self, i: int) -> _Hit | None:
        year = self.year(i)
        if year is None:
            return None
        return i + 1, _Range(date(year, 1, 1), date(year + 1, 1, 1))

    def decade(self, i: int) -> _Hit | None:
        w = self.word(i)
        start = DECADE_WORDS.get(w)
        m = _DECADE.fullmatch(w)
        if start is None and m is not None:
            if m.group(1) is not None:
                start = int(m.group(1) + m.group(2) + "0")
            elif m.group(2) in "01":
                start = 2000 + 10 * int(m.group(2))
            elif m.group(2) >= "5":  # "20s" to "40s" are more often ages than decades
                start = 1900 + 10 * int(m.group(2))
        if start is None or not OLDEST_YEAR - 6 <= start <= self.today.year:
            return None
        return i + 1, _Range(date(start, 1, 1), date(start + 10, 1, 1))

    def period_alone(self, i: int) -> _Hit | None:
        """summer; december (months of any year). "may", "fall" and abbreviations need a year or a day: they are
        months beside a year before them ("2020 may"), which the year then bounds."""
        w = self.word(i)
        if w in SEASONS:
            if w in AMBIGUOUS_SEASONS:
                return None
            return i + 1, _Months(_months_of(*SEASONS[w]))
        month = self.month(i)
        if month is None:
            return None
        if w in AMBIGUOUS_MONTHS and self.year(i - 1) is None:
            return None
        return i + 1, _Months((month,))


def _join(first: _Meaning, second: _Meaning) -> _Meaning | None:
    """P to Q: from the start of the earlier to the end of the later; months wrap ("december to february")."""
    if isinstance(first, _Range) and isinstance(second, _Range):
        if None in (first.start, first.end, second.start, second.end):
            return None
        assert first.start and second.start and first.end and second.end
        return _Range(min(first.start, second.start), max(first.end, second.end))
    if isinstance(first, _Months) and isinstance(second, _Months):
        a, b = first.months[0], second.months[-1]
        return _Months(_months_of(a, (b - a) % 12 + 1))
    if isinstance(first, _Months) and isinstance(second, _Range) and second.start and second.end:
        # june to december 2020: from the latest june before the end's start
        a = first.months[0]
        year = second.start.year if a <= second.start.month else second.start.year - 1
        return _Range(date(year, a, 1), second.end)
    if isinstance(first, _Range) and isinstance(second, _Months) and first.start and first.end:
        # may 2019 to august: to the end of the first august after the start's end
        last = first.end - timedelta(days=1)
        b = second.months[-1]
        year = last.year if b >= last.month else last.year + 1
        return _Range(first.start, _add_months(date(year, b, 1), 1))
    return None


def _easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _thanksgiving(year: int) -> date:
    """US Thanksgiving: the fourth Thursday of November."""
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)

