"""Celebrities in the index contract: a celebrity Rekognition recognised is found by `person:` and by a bare word, as
a person enrolled here is, on SQLite and on OpenSearch alike (and as the plain-Python oracle says); it stays out of
`people` and of the people facet, which count the people enrolled here only."""

from __future__ import annotations

import pytest

from mediaindex.domain.model import Analysis, Box, Celebrity
from mediaindex.domain.query import Query
from mediaindex.domain.query_syntax import parse_query
from tests.index.conftest import both_backends
from tests.index.corpus import face, label, make_doc
from tests.index.reference import search_ids

BACKENDS = ("sqlite", "opensearch")
BEZOS = Celebrity("Jeff Bezos", 99.7, Box(0.3, 0.2, 0.2, 0.25), "1SK7cR8M", ("https://www.wikidata.org/wiki/Q312556",
                  "https://www.imdb.com/name/nm1757263"), "Male")
OBAMA = Celebrity("Barack Obama", 98.2, Box(0.5, 0.2, 0.2, 0.25), "3R3sg9u", ("https://www.wikidata.org/wiki/Q76",))
STAGE, PARK, NAMESAKE, BEACH = "archive/1998-stage.jpg", "archive/park.jpg", "family/jeff.jpg", "family/beach.jpg"


def documents() -> list[dict]:
    a = lambda faces=(), celebrities=(): Analysis("rekognition", [label("Person", 99.0)], list(faces),  # noqa: E731
                                                  celebrities=list(celebrities))
    return [
        make_doc(STAGE, a([face()], [BEZOS])),  # a celebrity, nobody enrolled
        make_doc(PARK, a([face(person="Ada Lovelace"), face()], [OBAMA])),  # an enrolled person and a celebrity
        make_doc(NAMESAKE, a([face(person="Jeff Bezos")])),  # someone enrolled here under the same name
        make_doc(BEACH, a([face()])),
    ]


@pytest.fixture(scope="module")
def pair(osmem_server, tmp_path_factory):
    with both_backends(osmem_server, tmp_path_factory.mktemp("celebrities"), documents()) as pair:
        yield pair


def test_documents_keep_celebrities_apart_from_the_people_enrolled_here(pair):
    stage, park = pair["docs"][0], pair["docs"][1]
    assert stage["people"] == [] and park["people"] == ["Ada Lovelace"]
    assert stage["celebrities"] == [{
        "name": "Jeff Bezos", "confidence": 99.7, "box": {"left": 0.3, "top": 0.2, "width": 0.2, "height": 0.25},
        "id": "1SK7cR8M", "urls": ["https://www.wikidata.org/wiki/Q312556", "https://www.imdb.com/name/nm1757263"],
        "known_gender": "Male"}]
    assert "celebrities" not in pair["docs"][3]  # none recognised: no field
    for backend in BACKENDS:
        hit = next(h for h in pair[backend].search(Query(where=parse_query('person:"Jeff Bezos"'), limit=10)).hits
                   if h["key"] == STAGE)
        assert hit["celebrities"] == stage["celebrities"], backend


@pytest.mark.parametrize("text, expected", [
    ('person:"Jeff Bezos"', {STAGE, NAMESAKE}),
    ('person:"jeff bezos"', {STAGE, NAMESAKE}),
    ("person:bezos", {STAGE, NAMESAKE}),
    ("bezos", {STAGE, NAMESAKE}),
    ('"barack obama"', {PARK}),
    ('person:obama AND person:ada', {PARK}),
    ('NOT person:"barack obama"', {STAGE, NAMESAKE, BEACH}),
    ("person:lovelace", {PARK}),
])
def test_person_and_bare_words_find_celebrities_on_both_backends(pair, text, expected):
    query = Query(where=parse_query(text), limit=50)
    assert {d["id"] for d in pair["docs"] if d["key"] in expected} == search_ids(query, pair["docs"])  # the oracle
    for backend in BACKENDS:
        assert {h["key"] for h in pair[backend].search(query).hits} == expected, backend
        assert pair[backend].count(query) == len(expected), backend


def test_person_names_and_the_people_facet_agree(pair):
    for backend in BACKENDS:
        index = pair[backend]
        assert {n.lower() for n in index.person_names()} == {"jeff bezos", "barack obama", "ada lovelace"}, backend
        facets = index.search(Query(facets=("people",), limit=1)).facets
        assert facets["people"] == {"Ada Lovelace": 1, "Jeff Bezos": 1}, backend  # enrolled here only
