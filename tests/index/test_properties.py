"""Random queries over random documents: SQLite, OpenSearch (osmem) and the plain-Python reference must agree on
every total, every id set, the exact order of every non-relevance sort, and facets. Plus: the parser only ever
fails with a ParseError."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.domain.expressions import (
    EMOTIONS, FACE_BOOLEANS, All, And, DateRange, EmotionIs, FaceHas, KeyPrefix, LabelIs, MediaTypeIs, Not, Or,
    PersonIs, StatusIs, TextHas,
)
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.query_syntax import ParseError, parse_query
from tests.conftest import opensearch_index
from tests.index.corpus import FOLDERS, LABEL_POOL, PEOPLE_POOL, WORD_POOL, random_doc
from tests.index.reference import matches, search_ids

_RNG = random.Random(2024)
DOCS = [random_doc(_RNG, n) for n in range(300)]
LABEL_NAMES = sorted({n.lower() for name, extra in LABEL_POOL for n in (name, *extra.get("aliases", []), *extra.get("parents", []))})


@pytest.fixture(scope="module")
def pair(osmem_server, tmp_path_factory):
    sqlite = SqliteIndex(str(tmp_path_factory.mktemp("prop") / "index.db"))
    assert sqlite.put_many(DOCS) == len(DOCS)
    clone = osmem_server.clone()
    os_index = opensearch_index(clone.url)
    assert os_index.put_many(DOCS) == len(DOCS)
    os_index.refresh()
    yield sqlite, os_index
    clone.close()


confidence = st.one_of(st.none(), st.integers(40, 100).map(float), st.floats(50, 100).map(lambda f: round(f, 1)))
leaves = st.one_of(
    st.just(All()),  # alone, the facets come from the SQLite index's kept counts
    st.builds(LabelIs, st.sampled_from(LABEL_NAMES + ["unicorn"]), confidence),
    st.builds(PersonIs, st.sampled_from(PEOPLE_POOL + ["ada lovelace", "Nobody"])),
    st.builds(EmotionIs, st.sampled_from(EMOTIONS), confidence),
    st.builds(FaceHas, st.sampled_from(FACE_BOOLEANS), st.booleans()),
    st.builds(FaceHas, st.just("gender"), st.sampled_from(["male", "female"])),
    st.builds(lambda lo, span: FaceHas("age", (lo, None if span is None else lo + span)),
              st.integers(0, 90), st.one_of(st.none(), st.integers(0, 30))),
    st.builds(TextHas, st.lists(st.sampled_from(WORD_POOL + ["jpg", "mp4", "000123"]), min_size=1, max_size=3).map(" ".join), st.booleans()),
    st.builds(MediaTypeIs, st.sampled_from(["image", "video"])),
    st.builds(KeyPrefix, st.sampled_from(FOLDERS + ["holidays/", "h", "people/x", "zzz"])),
    st.builds(lambda f, a, b: DateRange(f, *sorted([a, b])), st.sampled_from(["taken_at", "indexed_at"]),
              st.sampled_from(["2012", "2015-06", "2018-01-01", "2024-03", "2024-07-01T12:00:00"]),
              st.sampled_from(["2014", "2020-02-29", "2024-06", "2025"])),
    st.builds(StatusIs, st.sampled_from(["indexed", "failed", "deleted"])),
)
expressions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda ps: And(*ps)),
        st.lists(inner, min_size=1, max_size=3).map(lambda ps: Or(*ps)),
        inner.map(Not),
    ),
    max_leaves=6,
)
sorts = st.builds(Sort, st.sampled_from(["indexed_at", "taken_at", "key"]), st.booleans())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=expressions, sort=sorts, offset=st.integers(0, 40), limit=st.integers(0, 25),
       include_failed=st.booleans())
def test_random_queries_agree_everywhere(pair, where, sort, offset, limit, include_failed):
    sqlite, opensearch = pair
    query = Query(where=where, sort=sort, offset=offset, limit=limit, facets=("labels", "people", "emotions", "media_type"),
                  statuses=("indexed", "failed") if include_failed else ("indexed",), facet_size=50)
    expected = search_ids(query, DOCS)
    a, b = sqlite.search(query), opensearch.search(query)
    assert a.total == b.total == len(expected)
    assert [h["id"] for h in a.hits] == [h["id"] for h in b.hits]
    assert {h["id"] for h in a.hits} <= expected
    assert len(a.hits) == max(0, min(limit, len(expected) - offset))
    assert a.facets == b.facets


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=expressions)
def test_relevance_sort_agrees_on_the_set(pair, where):
    sqlite, opensearch = pair
    query = Query(where=where, sort=Sort("relevance"), limit=400)
    a, b = sqlite.search(query), opensearch.search(query)
    assert {h["id"] for h in a.hits} == {h["id"] for h in b.hits} == search_ids(query, DOCS)


def test_the_random_corpus_exercises_the_query_model():
    # the property above is only worth something if its leaves match some documents and miss others
    for leaf in (LabelIs("animal", 80), PersonIs("barack obama"), EmotionIs("HAPPY"), FaceHas("smile", True),
                 TextHas("happy"), KeyPrefix("people/"), StatusIs("failed"), StatusIs("deleted")):
        hits = sum(matches(leaf, d) for d in DOCS)
        assert 0 < hits < len(DOCS), leaf


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list('abc:"()<>=.-_\\ 019é') + [" AND ", " OR ", "NOT ", "label:", "taken:", "smile:", "age:",
                                                               "..", "person:", "text:", "2020-01-01", ">=90"]), max_size=15).map("".join))
def test_the_parser_fails_only_with_parse_errors(text):
    try:
        parse_query(text)
    except ParseError as e:
        assert 0 <= e.position <= len(text)
