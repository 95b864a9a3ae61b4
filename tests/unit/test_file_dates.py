"""Dates in file names, the order of date sources, and which dates time words trust (domain/file_dates.py)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaindex.domain.file_dates import (
    choose_taken_at, date_in_file_name, embedded_date, file_time, trusted_date,
)

TODAY = date(2026, 12, 7)

NAMES = [
    ("IMG_20210811_142233.jpg", "2021-08-11T14:22:33"),
    ("IMG-20210811-WA0003.jpg", "2021-08-11"),  # WhatsApp: the date only
    ("VID_20200101_101010.mp4", "2020-01-01T10:10:10"),
    ("PXL_20230105_123456789.jpg", "2023-01-05T12:34:56"),  # the last three digits are milliseconds
    ("PXL_20230105_123456789.NIGHT.jpg", "2023-01-05T12:34:56"),
    ("Screenshot_20191002-082233.png", "2019-10-02T08:22:33"),
    ("Screenshot_20191002-082233_Chrome.jpg", "2019-10-02T08:22:33"),
    ("Screenshot 2019-10-02 at 08.22.33.png", "2019-10-02T08:22:33"),
    ("Screen Shot 2019-10-02 at 8.22.33 AM.png", "2019-10-02T08:22:33"),
    ("Screen Shot 2019-10-02 at 8.22.33 PM.png", "2019-10-02T20:22:33"),
    ("Screen Shot 2019-10-02 at 12.22.33 AM.png", "2019-10-02T00:22:33"),
    ("Screen Shot 2019-10-02 at 12.22.33 PM.png", "2019-10-02T12:22:33"),
    ("Screenshot 2023-10-02 at 8.22.33\u202fPM.png", "2023-10-02T20:22:33"),  # macOS 13: a narrow space
    ("WhatsApp Image 2021-08-11 at 10.22.33.jpeg", "2021-08-11T10:22:33"),
    ("WhatsApp Video 2021-08-11 at 10.22.33 (1).mp4", "2021-08-11T10:22:33"),
    ("signal-2021-08-11-102233.jpg", "2021-08-11T10:22:33"),
    ("20190815_101010.jpg", "2019-08-15T10:10:10"),  # Samsung
    ("2019-08-15 10.10.10.jpg", "2019-08-15T10:10:10"),  # Dropbox camera uploads
    ("photo_2021-03-04_05-06-07.jpg", "2021-03-04T05:06:07"),  # Telegram
    ("2019-08-15.jpg", "2019-08-15"),
    ("holiday/2019/IMG_20210811_142233.jpg", "2021-08-11T14:22:33"),  # only the base name counts
    ("C:\\Users\\a\\IMG_20210811_142233.jpg", "2021-08-11T14:22:33"),
    ("IMG_20210811_252233.jpg", "2021-08-11"),  # an impossible time leaves the date
    ("2026-12-08 00.00.01.jpg", "2026-12-08T00:00:01"),  # tomorrow: time zones
]

NEGATIVES = [
    "IMG_1234.jpg", "DSC01234.JPG", "DSCF0001.RAF", "20211345_101010.jpg", "2021-13-45 10.10.10.jpg",
    "1234567.jpg", "83749201.jpg", "123456789012.jpg", "IMG_19850101_101010.jpg", "2030-01-01.jpg",
    "2026-12-09.jpg", "holiday/2019-08-15/IMG_1234.jpg", "", "a2019081512.jpg", "2019-08-15/photo.jpg",
    "report-2018-2020.pdf",
]


@pytest.mark.parametrize("name,expected", NAMES)
def test_dates_in_the_names_phones_and_apps_write(name, expected):
    assert date_in_file_name(name, TODAY) == expected


@pytest.mark.parametrize("name", NEGATIVES)
def test_names_without_a_date(name):
    assert date_in_file_name(name, TODAY) is None


def test_the_clock_is_today_by_default():
    assert date_in_file_name("IMG_20210811_142233.jpg") == "2021-08-11T14:22:33"
    assert date_in_file_name("IMG_29990811_142233.jpg") is None


@settings(deadline=None)  # a busy machine must not fail a property on time
@given(st.text(max_size=80))
def test_never_raises_and_gives_a_date_in_range(name):
    found = date_in_file_name(name, TODAY)
    if found is not None:
        day = date.fromisoformat(found[:10])
        assert date(1990, 1, 1) <= day <= date(2026, 12, 8)


@settings(deadline=None)  # a busy machine must not fail a property on time
@given(st.from_regex(r"[A-Za-z_ -]{0,6}\d{8}[_-]\d{6}[A-Za-z._ -]{0,6}", fullmatch=True))
def test_compact_dates_never_raise(name):
    date_in_file_name(name, TODAY)


def test_file_time_loses_its_offset_in_utc():
    assert file_time("2021-08-11T10:22:33+00:00") == "2021-08-11T10:22:33"
    assert file_time("2021-08-11T10:22:33.123456Z") == "2021-08-11T10:22:33"
    assert file_time("2021-08-11T12:22:33+02:00") == "2021-08-11T10:22:33"
    assert file_time("2021-08-11T10:22:33") == "2021-08-11T10:22:33"
    assert file_time("yesterday") is None and file_time(None) is None and file_time("") is None


def test_the_order_of_date_sources():
    modified = "2024-01-02T03:04:05+00:00"
    assert choose_taken_at("2019-01-01T10:00:00", "exif", "IMG_20210811_142233.jpg", modified, TODAY) == \
        ("2019-01-01T10:00:00", "exif")
    assert choose_taken_at("2019-01-01T10:00:00Z", "container", "VID_20200101_101010.mp4", modified, TODAY) == \
        ("2019-01-01T10:00:00Z", "container")
    assert choose_taken_at(None, "exif", "a/IMG_20210811_142233.jpg", modified, TODAY) == \
        ("2021-08-11T14:22:33", "file name")
    assert choose_taken_at(None, "exif", "a/IMG_1234.jpg", modified, TODAY) == ("2024-01-02T03:04:05", "file time")
    assert choose_taken_at(None, "container", "a/IMG_1234.jpg", None, TODAY) == (None, None)
    assert choose_taken_at("", "exif", "a/IMG_1234.jpg", "not a time", TODAY) == (None, None)


def test_the_date_a_copy_of_the_same_bytes_keeps():
    assert embedded_date({"media_type": "image", "taken_at": "2019-01-01T10:00:00", "taken_at_source": "exif"}) == \
        ("2019-01-01T10:00:00", "exif")
    assert embedded_date({"media_type": "video", "taken_at": "2019-01-01T10:00:00Z", "taken_at_source": "container"}) \
        == ("2019-01-01T10:00:00Z", "container")
    # a date from the earlier file's own name or file time is not the copy's
    assert embedded_date({"media_type": "image", "taken_at": "2021-08-11", "taken_at_source": "file name"}) == \
        (None, "exif")
    assert embedded_date({"media_type": "video", "taken_at": "2021-08-11T10:00:00", "taken_at_source": "file time"}) \
        == (None, "container")
    assert embedded_date({"media_type": "image", "taken_at": None, "taken_at_source": None}) == (None, "exif")
    # written before taken_at_source existed: taken_at came from the bytes
    assert embedded_date({"media_type": "image", "taken_at": "2019-01-01T10:00:00"}) == ("2019-01-01T10:00:00", "exif")
    assert embedded_date({"media_type": "video", "taken_at": "2019-01-01"}) == ("2019-01-01", "container")
    assert embedded_date({"media_type": "image"}) == (None, "exif")


@pytest.mark.parametrize("taken_at,trusted", [
    ("2019-06-01T10:00:00", True), ("2019-06-01", True), ("1826-01-01", True), ("1825-12-31T23:59:59", False),
    ("0001-01-01T00:00:00", False), ("2026-12-07T23:00:00", True), ("2026-12-08T10:00:00", True),
    ("2026-12-09T00:00:00", False), ("2099-01-01", False), (None, False), ("", False), ("garbage", False),
    ("2019-13-01", False),
])
def test_which_dates_time_words_trust(taken_at, trusted):
    assert trusted_date(taken_at, TODAY) is trusted
