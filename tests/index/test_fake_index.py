"""The in-memory FakeIndex (tests/fakes.py) keeps the index contract too, so the use-case tests built on it say
something about the real backends: the contract's queries, statistics, batch reads and writes, without a server."""

from __future__ import annotations

import pytest

from mediaindex.domain.errors import VersionConflict
from mediaindex.domain.query import Query, Sort, parse_query
from tests.fakes import FakeIndex
from tests.index.corpus import tombstone_with_dog
from tests.index.test_contract import BROKEN, CASES, DOCS, EMPTY, IMG1, BEACH, expected_facets, keys


@pytest.fixture(scope="module")
def fake() -> FakeIndex:
    index = FakeIndex()
    for doc in DOCS:
        index.put(doc, None)
    return index


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0] or "<all>" for c in CASES])
def test_the_contract_queries(fake, text, expected):
    query = Query(where=parse_query(text), limit=100)
    assert keys(fake.search(query)) == expected
    assert fake.search(query).total == fake.count(query) == len(expected)


@pytest.mark.parametrize("text", ["", "label:animal", "NOT smile:true"])
def test_facets(fake, text):
    query = Query(where=parse_query(text), facets=("labels", "people", "emotions", "media_type"), limit=1)
    assert fake.search(query).facets == expected_facets(query)


def test_sorting_and_paging(fake):
    query = Query(sort=Sort.parse("key"), limit=50, statuses=("indexed", "failed"))
    ordered = [h["key"] for h in fake.search(query).hits]
    assert ordered == sorted(d["key"] for d in DOCS if d["status"] != "deleted")
    page = fake.search(Query(sort=Sort.parse("key"), statuses=("indexed", "failed"), offset=2, limit=3))
    assert [h["key"] for h in page.hits] == ordered[2:5]


def test_stats(fake):
    s = fake.stats()
    assert (s["documents"], s["indexed"], s["failed"]) == (11, 9, 2)
    assert s["media_types"] == {"image": 10, "video": 1}
    assert s["people"][0] == ["Barack Obama", 3] and ["animal", 5] in s["top_labels"]
    assert s["failures"] == [
        {"key": BROKEN, "error": "corrupt: cannot decode HEIC"}, {"key": EMPTY, "error": "empty_file: the file is empty"},
    ]


def test_get_many_iter_documents_and_person_names(fake):
    found = fake.get_many([DOCS[0]["id"], "never-there"])
    assert list(found) == [DOCS[0]["id"]] and found[DOCS[0]["id"]].doc == DOCS[0]
    assert len(list(fake.iter_documents())) == len([d for d in DOCS if d["status"] != "deleted"])
    assert "Barack Obama" in fake.person_names()


def test_writes_tombstones_and_purging():
    index = FakeIndex()
    assert index.put_many(DOCS + [tombstone_with_dog()]) == len(DOCS) + 1
    assert keys(index.search(parse_query("label:dog"))) == {IMG1, BEACH}  # a tombstone is never found
    current = index.get(DOCS[0]["id"])
    index.update_fields(DOCS[0]["id"], {"people": ["Ada Lovelace"]}, current.version)
    assert index.get(DOCS[0]["id"]).doc["people"] == ["Ada Lovelace"]
    with pytest.raises(VersionConflict):
        index.update_fields(DOCS[0]["id"], {"people": []}, current.version)
    with pytest.raises(VersionConflict):
        index.update_fields("no-such-document", {"people": []}, current.version)
    assert index.purge_tombstones("2024-07-16T23:00:00Z") == 1 and index.purge_tombstones("2025-01-01") == 1
    index.delete_document(DOCS[0]["id"])
    index.delete_document("never-there")
    assert index.get(DOCS[0]["id"]) is None
