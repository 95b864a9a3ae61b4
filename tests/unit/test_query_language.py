"""The query language in its modules: the syntax's field readers, the search flags as terms, the API's search
parameters."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from mediaindex.api.routes.search import search_query
from mediaindex.domain.expressions import (
    FACETS, And, DateRange, EmotionIs, FaceHas, KeyPrefix, LabelIs, MediaTypeIs, Or, PersonIs, StatusIs, TextHas,
)
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.query_syntax import _FIELD_READERS, FIELDS, ParseError, emotion_name, media_type_name, parse_query
from mediaindex.domain.vocabulary import Status
from mediaindex.entrypoints.cli.query_flags import query_from_flags


# ---- the syntax ----------------------------------------------------------------------------------------------------
def test_every_field_has_a_reader():
    assert set(_FIELD_READERS) == set(FIELDS.values())


@pytest.mark.parametrize("text, expected", [
    ('label:"golden retriever">=90', LabelIs("golden retriever", 90)),
    ("labels:Dog>=50.5", LabelIs("dog", 50.5)),
    ("emotion:happy>=70", EmotionIs("HAPPY", 70)),
    ("glasses:yes", FaceHas("eyeglasses", True)),
    ("gender:Female", FaceHas("gender", "female")),
    ("age:..12", FaceHas("age", (None, 12))),
    ('text:"happy birthday"', TextHas("happy birthday", phrase=True)),
    ("text:happy", TextHas("happy")),
    ("media:VIDEO", MediaTypeIs("video")),
    ('key:"my photos/"', KeyPrefix("my photos/")),
    ("taken:2024-05", DateRange("taken_at", "2024-05", "2024-06")),
    ("status:any", Or(StatusIs(Status.INDEXED), StatusIs(Status.FAILED))),
    ("status:FAILED", StatusIs("failed")),
    ("person:obama", PersonIs("obama", prefix=True)),
])
def test_each_field_reads_its_value(text, expected):
    assert parse_query(text) == expected


@pytest.mark.parametrize("text, message, position", [
    ("label:>=90", "label: needs a name", 6),
    ("label:dog>90", "a threshold is written >=N", 6),
    ('label:"a b">=x', "a threshold is >= and a number", 6),
    ("emotion:glad", "unknown emotion 'glad'", 8),
    ("dog status:deleted", "status takes indexed, failed or any", 11),
    ("colour:red", "unknown field 'colour'", 0),
    ("label: dog", "label: needs a value", 0),
    ("age:40..20", "is empty", 4),
])
def test_a_field_error_says_what_and_where(text, message, position):
    with pytest.raises(ParseError) as e:
        parse_query(text)
    assert message in e.value.message and e.value.position == position


def test_value_checks_shared_by_the_flags():
    assert emotion_name("Happy") == "HAPPY" and media_type_name("Image") == "image"
    with pytest.raises(ParseError, match="type takes image or video"):
        media_type_name("gif")


# ---- the search flags ----------------------------------------------------------------------------------------------
def test_flags_narrow_the_query_and_min_confidence_fills_only_missing_thresholds():
    query = query_from_flags("label:cat>=80", labels=["dog"], people=["ada"], min_confidence=60, emotions=["calm"],
                             text="invoice", media_type="image", prefix="a/", sort="key", include_failed=True,
                             facets=["labels"])
    assert query.where == And(LabelIs("cat", 80), LabelIs("dog", 60), PersonIs("ada", prefix=True), EmotionIs("CALM"),
                              TextHas("invoice"), MediaTypeIs("image"), KeyPrefix("a/"))
    assert query.sort == Sort("key", descending=False) and query.facets == ("labels",)
    assert query.statuses == (Status.INDEXED, Status.FAILED)
    assert query_from_flags() == Query() and query_from_flags(facets=True).facets == FACETS


def test_flags_refuse_what_they_cannot_search_for():
    with pytest.raises(ParseError, match="--text"):
        query_from_flags(text="!!!")
    with pytest.raises(ValueError, match="percentage"):
        query_from_flags(labels=["dog"], min_confidence=120)


# ---- the API's search parameters -----------------------------------------------------------------------------------
def test_a_person_parameter_is_exactly_the_facets_name_and_every_facet_is_counted():
    query = search_query(q="dog", person=["Ada Lovelace"], emotion=["happy"], type="video", sort="-taken_at", limit=5,
                         offset=10, failed=True)
    assert query.where == And(parse_query("dog"), PersonIs("Ada Lovelace", names=("ada lovelace",)),
                              EmotionIs("HAPPY"), MediaTypeIs("video"))
    assert (query.limit, query.offset, query.facets) == (5, 10, FACETS)
    assert query.sort == Sort("taken_at") and query.statuses == (Status.INDEXED, Status.FAILED)
    assert search_query() == Query(limit=60, facets=FACETS)



@hsettings(max_examples=100, deadline=None)
@given(st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2000, 12, 31)))
def test_year_0000_is_a_date_with_the_calendar_of_2000(day):
    """The README allows dates from `0000`: year 0 (no Python date) is read with the calendar of 2000 (both leap
    years of the proleptic Gregorian calendar)."""
    zero = parse_query(f"taken:0000-{day:%m-%d}")
    after = day + datetime.timedelta(days=1)
    assert zero.since == f"0000-{day:%m-%d}" and zero.before == f"{after.year - 2000:04d}-{after:%m-%d}"
    assert parse_query("taken:0000").before == "0001" and parse_query("taken:..0000-01").before == "0000-02"
    with pytest.raises(ParseError, match="not a valid date"):
        parse_query("taken:0000-02-30")
