"""Where a file's date comes from, and whether to believe it (docs/dates.md).

A document's `taken_at` is, in this order:

1. the date the bytes themselves carry: a photo's EXIF DateTimeOriginal (`taken_at_source` "exif") or a video's
   container creation time ("container");
2. a date in the file's base name, as phones and apps write them (`date_in_file_name`; "file name");
3. the file's modification time as storage reports it ("file time"): the least reliable, since a copy, a sync
   or a restore from backup sets it anew;
4. none (`taken_at` and `taken_at_source` None).

A date is shown as given, but only a date between 1826 (the oldest surviving photograph) and tomorrow is trusted
for time words ("2019", "last summer"): `trusted_date`.

Pure: the standard library only, no clock except where a caller leaves `today` out.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mediaindex.domain.document import SearchDocument

EXIF = "exif"
CONTAINER = "container"
FILE_NAME = "file name"
FILE_TIME = "file time"
SOURCES = (EXIF, CONTAINER, FILE_NAME, FILE_TIME)
# the sources that travel with the bytes: a copy of the same bytes under another name has the same date
EMBEDDED = (EXIF, CONTAINER)

OLDEST_YEAR_IN_NAMES = 1990  # no phone or app wrote a date into a file name before this
OLDEST_TRUSTED = date(1826, 1, 1)  # the oldest surviving photograph (Niépce, 1826 or 1827)

# A date written compactly with a time: IMG_20210811_142233, VID_20200101_101010, PXL_20230105_123456789 (the last
# three digits are milliseconds), Screenshot_20191002-082233, 20190815_101010 (Samsung).
_COMPACT_TIME = re.compile(r"(?<![0-9])(\d{4})(\d{2})(\d{2})[_-](\d{2})(\d{2})(\d{2})(?:\d{1,3})?(?![0-9])")
# A date with dashes, perhaps followed by a time: "Screenshot 2019-10-02 at 08.22.33", "Screen Shot 2019-10-02 at
# 8.22.33 AM", "WhatsApp Image 2021-08-11 at 10.22.33", signal-2021-08-11-102233, "2019-08-15 10.10.10" (Dropbox),
# photo_2021-03-04_05-06-07 (Telegram).
_DASHED = re.compile(
    r"(?<![0-9])(\d{4})-(\d{2})-(\d{2})"
    r"(?:(?:\s+at\s+|[ _T-])(\d{1,2})[.:-]?(\d{2})[.:-]?(\d{2})(?:\s*([AaPp])\.?[Mm]\.?(?![a-z]))?)?"
    r"(?![0-9])"
)
# A compact date alone, eight digits between non-digits: IMG-20210811-WA0003 (WhatsApp).
_COMPACT_DATE = re.compile(r"(?<![0-9])(\d{4})(\d{2})(\d{2})(?![0-9])")


def base_name(key: str) -> str:
    """The last part of a key or path (after the last / or \\)."""
    return re.split(r"[/\\]", key)[-1]


def date_in_file_name(name: str, today: date | None = None) -> str | None:
    """The local date (and time, when the name has one) written in a file's name, as ISO 8601:
    "2021-08-11T14:22:33" or "2021-08-11"; None when the name has none. Only the base name is read (a folder called
    2019 says nothing of one file). Dates before 1990 or after `today` + 1 day (default: the clock's today) and
    impossible dates (2021-13-45) are ignored; an impossible time leaves the date alone. Never raises."""
    try:
        return _date_in_name(base_name(str(name)), today or date.today())
    except Exception:  # a name is anything: it must never fail a file
        return None


def _date_in_name(name: str, today: date) -> str | None:
    latest = today + timedelta(days=1)
    for pattern in (_COMPACT_TIME, _DASHED, _COMPACT_DATE):
        for m in pattern.finditer(name):
            day = _day(m.group(1), m.group(2), m.group(3))
            if day is None or day.year < OLDEST_YEAR_IN_NAMES or day > latest:
                continue
            groups = m.groups()
            if len(groups) < 6 or groups[3] is None:
                return day.isoformat()
            hour, minute, second = int(groups[3]), int(groups[4]), int(groups[5])
            half = groups[6] if len(groups) > 6 else None
            if half:
                if not 1 <= hour <= 12:
                    return day.isoformat()
                hour = hour % 12 + (12 if half.lower() == "p" else 0)
            if hour > 23 or minute > 59 or second > 59:
                return day.isoformat()
            return datetime(day.year, day.month, day.day, hour, minute, second).isoformat()
    return None


def _day(y: str, m: str, d: str) -> date | None:
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        return None


def file_time(modified: str | None) -> str | None:
    """Storage's modification time in the form of the other dates: ISO 8601 to the second, without an offset (an
    aware time is turned to UTC first). None when it is missing or unreadable."""
    if not modified or not isinstance(modified, str):
        return None
    text = modified.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when.isoformat(timespec="seconds")


def choose_taken_at(embedded: str | None, embedded_kind: str, key: str, modified: str | None,
                    today: date | None = None) -> tuple[str | None, str | None]:
    """`(taken_at, taken_at_source)` of a file: the date its bytes carry (`embedded`, an EXIF or container date;
    `embedded_kind` says which: "exif" or "container"), else a date in the base name of `key`, else the
    modification time `modified`, else (None, None)."""
    if embedded:
        return embedded, embedded_kind
    named = date_in_file_name(key, today)
    if named:
        return named, FILE_NAME
    stamp = file_time(modified)
    if stamp:
        return stamp, FILE_TIME
    return None, None


def embedded_date(doc: SearchDocument) -> tuple[str | None, str]:
    """The date a document's bytes carry, and its source ("exif" or "container"), for a copy of those bytes under
    another name: a date the earlier document took from its own name or file time is not the copy's
    (None then). A document written before `taken_at_source` existed took `taken_at` from its bytes only."""
    kind = CONTAINER if doc.get("media_type") == "video" else EXIF
    source = doc["taken_at_source"] if "taken_at_source" in doc else kind
    taken = doc.get("taken_at")
    if taken and source in EMBEDDED:
        return taken, source
    return None, kind


def trusted_date(taken_at: str | None, today: date) -> bool:
    """May `taken_at` answer time words? Not when it is missing or unreadable, before 1826 (no photograph is that
    old: a camera's clock reset to 0001 or 1800) or after `today` + 1 day (a clock set in the future; the day after
    allows for time zones). Such a date is still shown as the file gives it."""
    if not taken_at or not isinstance(taken_at, str):
        return False
    try:
        day = date.fromisoformat(taken_at[:10])
    except ValueError:
        return False
    return OLDEST_TRUSTED <= day <= today + timedelta(days=1)
