"""Search as people type it, on both backends: people by any word or the start of their name, several people
and exactly those people, singular and plural, gender words; facets one per concept. Checked against the oracle
(reference.py) and against hand-derived expectations."""

from __future__ import annotations

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.domain.model import Analysis, TextLine
from mediaindex.domain.expressions import OnlyPeople, PersonIs, resolve_people
from mediaindex.domain.query import Query
from mediaindex.domain.query_syntax import parse_query
from mediaindex.entrypoints.cli.query_flags import query_from_flags
from tests.conftest import opensearch_index
from tests.index.corpus import face, label, make_doc
from tests.index.reference import search_ids

BACKENDS = ("sqlite", "opensearch")
PERSON = dict(aliases=["human", "people"])
DOG = dict(parents=["Canine", "Animal"], aliases=["domestic dog", "Canis familiaris"])


def a(*labels, faces=(), text=()):
    return Analysis("local", list(labels), list(faces), [TextLine(t, 99.0) for t in text])


DOCS = [
    make_doc("portraits/obama.jpg", a(label("Person", 97.0, **PERSON),
                                     faces=[face(gender="Male", age=(50, 60), person="Barack Obama")])),
    make_doc("portraits/two.jpg", a(label("Person", 96.0, **PERSON), faces=[
        face(gender="Male", age=(50, 60), person="Barack Obama"), face(gender="Male", age=(70, 80), person="Joe Biden")])),
    make_doc("portraits/three.jpg", a(label("Person", 96.0, **PERSON), faces=[
        face(person="Barack Obama"), face(person="Joe Biden"), face(gender="Female", person="Michelle Obama")])),
    make_doc("portraits/biden.jpg", a(label("Person", 95.0, **PERSON),
                                     faces=[face(gender="Male", age=(70, 80), person="Joe Biden")])),
    make_doc("family/girl.jpg", a(label("Person", 90.0, **PERSON), faces=[face(gender="Female", age=(8, 12))])),
    make_doc("pets/rex.jpg", a(label("Dog", 95.0, **DOG))),
    make_doc("pets/husky.jpg", a(label("Siberian Husky", 91.0, parents=["Dog", "Canine", "Animal"]))),
    make_doc("pets/mice.jpg", a(label("Mouse", 80.0, parents=["Rodent", "Animal"]))),
    make_doc("wild/African_hunting_dog.jpg", a(label("African Hunting Dog", 97.0, parents=["Wild Dog", "Canine", "Animal"],
                                                     aliases=["Lycaon pictus"]))),
]
KEY = {d["id"]: d["key"] for d in DOCS}
OBAMA, TWO, THREE, BIDEN, GIRL, REX, HUSKY, MICE, WILD = (d["key"] for d in DOCS)

CASES = [
    ("barack", {OBAMA, TWO, THREE}),
    ("Obama", {OBAMA, TWO, THREE}),  # and Michelle Obama, who is in THREE
    ("person:obama", {OBAMA, TWO, THREE}),
    ("person:OBAMA", {OBAMA, TWO, THREE}),
    ("person:michelle", {THREE}),
    ("person:bar", {OBAMA, TWO, THREE}),  # the start of a word
    ("bar", set()),  # a bare word matches whole words of a name only: "man" is not Lin-Manuel
    ("joe biden", {TWO, THREE, BIDEN}),  # unquoted: two words, both of Joe Biden's name
    ('person:"biden joe"', {TWO, THREE, BIDEN}),
    ('person:"joe obama"', set()),  # both words must belong to one person
    ("person:obama person:biden", {TWO, THREE}),  # both in one photo
    ('person:"barack obama" person:biden only:people', {TWO}),  # exactly those two known people
    ("person:biden only:people", {BIDEN}),
    ("barack biden only:people", {TWO}),  # bare words count as the people they name
    ("only:people", {GIRL, REX, HUSKY, MICE, WILD}),  # nobody known at all
    ("dogs", {REX, HUSKY}),  # the plural finds the dog label (not the hunting dog: WordNet calls it a wild dog)
    ("dog", {REX, HUSKY, WILD}),  # ... whose file name says dog
    ("label:dogs", {REX, HUSKY}),
    ("label:dog", {REX, HUSKY}),
    ("mice", {MICE}),  # WordNet's irregular plural, and the file name
    ("label:mice", {MICE}),
    ("label:canines", {REX, HUSKY, WILD}),
    ("label:humans", {OBAMA, TWO, THREE, BIDEN, GIRL}),  # an alias, plural
    ('label:"lycaon pictus"', {WILD}),  # every alias stays searchable, Latin included
    ("woman", {THREE, GIRL}),
    ("women", {THREE, GIRL}),
    ("man", {OBAMA, TWO, THREE, BIDEN}),  # the corpus' face() is male unless told otherwise
    ("men", {OBAMA, TWO, THREE, BIDEN}),
    ("girl", {GIRL}),  # female and under 18
    ("girls", {GIRL}),
    ("child", {GIRL}),
]


@pytest.fixture(scope="module")
def pair(osmem_server, tmp_path_factory):
    sqlite = SqliteIndex(str(tmp_path_factory.mktemp("words") / "index.db"))
    clone = osmem_server.clone()
    os_index = opensearch_index(clone.url)
    for index in (sqlite, os_index):
        index.ensure_ready()
        for doc in DOCS:
            index.put(doc, None)
        index.refresh()
    yield {"sqlite": sqlite, "opensearch": os_index}
    clone.close()
    sqlite.close()


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0] for c in CASES])
def test_words_as_people_type_them(pair, text, expected):
    query = Query(where=parse_query(text), limit=50)
    assert {KEY[i] for i in search_ids(query, DOCS)} == expected, "the oracle and the expectation disagree"
    for backend in BACKENDS:
        result = pair[backend].search(query)
        assert {h["key"] for h in result.hits} == expected, backend
        assert result.total == pair[backend].count(query) == len(expected), backend


def test_the_known_people_are_listed_by_both_backends(pair):
    assert sorted(pair["sqlite"].person_names()) == ["Barack Obama", "Joe Biden", "Michelle Obama"]
    assert sorted(pair["opensearch"].person_names()) == ["barack obama", "joe biden", "michelle obama"]


def test_resolution_names_exact_people_and_only_turns_into_not():
    known = lambda: ["Barack Obama", "Michelle Obama", "Joe Biden"]  # noqa: E731
    assert resolve_people(PersonIs("obama"), known) == PersonIs("obama", names=("barack obama", "michelle obama"))
    tree = resolve_people(parse_query("person:barack only:people"), known)
    assert "joe biden" in repr(tree) and "michelle obama" in repr(tree) and "OnlyPeople" not in repr(tree)
    assert not any(isinstance(p, OnlyPeople) for p in getattr(tree, "parts", ()))


def test_one_facet_per_concept_and_counts_agree_with_label_search(pair):
    query = Query(facets=("labels",), facet_size=50, limit=0)
    for backend in BACKENDS:
        labels = pair[backend].search(query).facets["labels"]
        assert "human" not in labels and "people" not in labels and labels["person"] == 5, backend
        assert "canis familiaris" not in labels and "lycaon pictus" not in labels, backend
        for name, count in labels.items():  # a facet's count is what a label search for it finds
            assert pair[backend].count(Query(where=parse_query(f'label:"{name}"'))) == count, (backend, name)


def test_a_facet_filter_names_exactly_one_person_and_a_typed_one_any_word(pair):
    for backend in BACKENDS:
        index = pair[backend]
        assert index.count(query_from_flags(None, people=["obama"])) == 3, backend
        assert index.count(Query(where=PersonIs("obama", names=("obama",)))) == 0, backend
        assert index.count(Query(where=PersonIs("Michelle Obama", names=("michelle obama",)))) == 1, backend


def test_a_person_whose_files_are_all_gone_is_not_known_any_more(empty_index):
    from mediaindex.domain import document as docs

    doc = DOCS[3]  # Joe Biden alone
    empty_index.put(doc, None)
    empty_index.refresh()
    assert [n.lower() for n in empty_index.person_names()] == ["joe biden"]
    assert empty_index.count(parse_query("biden")) == 1
    tomb = docs.tombstone(doc["bucket"], doc["key"], None)
    empty_index.put(tomb, empty_index.get(doc["id"]).version)
    empty_index.refresh()
    assert empty_index.person_names() == []
    assert empty_index.count(parse_query("person:biden")) == 0
