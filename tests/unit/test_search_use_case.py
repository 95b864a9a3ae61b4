"""The search use case on a real embedded index: unknown words left out and named, names written as two words
found as one, files with some of the concepts when none has all, places, kinds, cameras and dates in words."""

from __future__ import annotations

from datetime import date

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.domain.query import Query
from mediaindex.domain.query_syntax import parse_query
from mediaindex.services.search import run_search
from tests.index.corpus import NEW_YORK, PARIS, plain_doc as doc

TODAY = date(2026, 12, 7)


def library() -> list[dict]:
    return [
        doc("a.jpg", [("Horse", 90.0, ["equine"]), ("Valley", 40.0, [])], taken_at="2019-07-02T10:00:00"),
        doc("b.jpg", [("Seashore", 80.0, ["shore"]), ("Dog", 70.0, ["canine"])], place=PARIS,
            taken_at="2019-12-25T09:00:00", camera="Apple iPhone 12", lens="iPhone 12 front camera 2.71mm f/2.2"),
        doc("c.jpg", [("Dog", 99.0, ["canine"])], people=["Joe Biden"], place=NEW_YORK,
            taken_at="2021-08-11T10:00:00", camera="Canon EOS 5D"),
        doc("d.png", [("Web site", 60.0, [])], width=1170, height=2532, content_type="image/png"),
        doc("e.jpg", [("Lakeside", 85.0, ["shore"])], taken_at="2026-07-01T10:00:00"),
        doc("f.jpg", [("Christmas stocking", 75.0, ["stocking"])], taken_at="2024-11-30T10:00:00"),
    ]


@pytest.fixture
def index(tmp_path):
    ix = SqliteIndex(str(tmp_path / "index.db"))
    ix.ensure_ready()
    for d in library():
        ix.put(d, None)
    yield ix
    ix.close()


# the same answers from OpenSearch (osmem-server through opensearch-py) as from the embedded index
BOTH = ["horse lake", "beach", "new york", "joe biden", "paris", "france", "usa", "2019", "christmas", "summer 2019",
        "last summer", "dog 2021", "december", "iphone", "canon", "selfie", "screenshots", "place:paris",
        "camera:iphone", "kind:screenshot", "a horse running in a field"]


@pytest.mark.parametrize("empty_index", ["sqlite", "opensearch"], indirect=True)
def test_both_backends_answer_free_text_alike(empty_index, tmp_path):
    reference = SqliteIndex(str(tmp_path / "reference.db"))
    for d in library():
        empty_index.put(d, None)
        reference.put(d, None)
    empty_index.refresh()
    for text in BOTH:
        got, want = search(empty_index, text), search(reference, text)
        assert keys(got) == keys(want), text
        assert (got.not_understood, got.relaxed, got.concepts) == (want.not_understood, want.relaxed, want.concepts)
    facets = empty_index.search(Query(limit=0, facets=("places",))).facets["places"]
    assert facets == {"Boulogne-Billancourt": 1, "New York City": 1}


def keys(answer) -> list[str]:
    return [h["key"] for h in answer.result.hits]


def search(index, text):
    return run_search(index, Query(where=parse_query(text, TODAY)))


def test_a_sentence_finds_what_the_index_knows_and_names_the_rest(index):
    answer = search(index, "a horse running in a field")
    assert keys(answer) == ["a.jpg"]
    assert set(answer.not_understood) == {"running", "field"} and not answer.relaxed


def test_nothing_understood_is_no_match_and_says_so(index):
    answer = search(index, "zebra crossing")
    assert answer.result.total == 0 and set(answer.not_understood) == {"zebra", "crossing"}


def test_when_no_file_has_every_concept_the_ones_with_most_come_first(index):
    answer = search(index, "horse lake")
    assert answer.relaxed and keys(answer) == ["a.jpg", "e.jpg"]  # 0.9 x 1.0 before 0.85 x 0.8 (lakeside)


def test_scene_words_find_the_labels_that_show_them(index):
    assert keys(search(index, "beach")) == ["b.jpg", "e.jpg"]  # the seashore first, then a lake shore
    assert keys(search(index, "lake")) == ["e.jpg"]
    assert keys(search(index, "dogs on the beach")) == ["b.jpg"]


def test_two_words_of_one_name_are_one_concept(index):
    assert keys(search(index, "new york")) == ["c.jpg"]
    assert keys(search(index, "joe biden")) == ["c.jpg"]
    assert search(index, "new york").concepts == ("new york",)


def test_places_by_any_of_their_names(index):
    for text in ("paris", "france", "Boulogne-Billancourt", "usa", "united states"):
        assert keys(search(index, text)), text
    assert keys(search(index, "paris")) == ["b.jpg"]
    facets = index.search(Query(limit=0, facets=("places",))).facets["places"]
    assert facets == {"Boulogne-Billancourt": 1, "New York City": 1}


def test_dates_in_words(index):
    assert keys(search(index, "2019")) == ["b.jpg", "a.jpg"]  # no concept: newest indexed first, then id
    assert keys(search(index, "christmas")) == ["b.jpg", "f.jpg"]  # taken at Christmas; a Christmas stocking
    assert keys(search(index, "summer 2019")) == ["a.jpg"]
    assert keys(search(index, "last summer")) == ["e.jpg"]
    assert keys(search(index, "dog 2021")) == ["c.jpg"]
    assert keys(search(index, "december")) == ["b.jpg"]


def test_cameras_and_kinds(index):
    assert keys(search(index, "iphone")) == ["b.jpg"]
    assert keys(search(index, "canon")) == ["c.jpg"]
    assert keys(search(index, "selfie")) == ["b.jpg"]
    assert keys(search(index, "screenshots")) == ["d.png"]


def test_a_hit_says_where_it_matched_a_word(index):
    from mediaindex.services.search import explain_hits

    answer = search(index, "paris iphone")
    reasons = explain_hits(answer.query, answer.result.hits)
    assert reasons[answer.result.hits[0]["id"]] == ["place", "camera"]
