"""The shared index reads and writes (services/index_io.py): the batch lookup of listed files and the
compare-and-set retry loop."""

from __future__ import annotations

import pytest

from mediaindex.domain.errors import TransientError, VersionConflict
from mediaindex.services.index_io import compare_and_set, documents_by_id
from tests.fakes import FakeIndex


def doc(doc_id: str, **fields) -> dict:
    return {"id": doc_id, "key": doc_id, "status": "indexed", **fields}


class CountingIndex(FakeIndex):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.batches: list[list[str]] = []

    def get(self, doc_id):
        self.gets += 1
        return super().get(doc_id)

    def get_many(self, doc_ids):
        self.batches.append(list(doc_ids))
        return super().get_many(doc_ids)


def test_documents_by_id_is_one_batch_and_leaves_out_what_is_missing():
    index = CountingIndex()
    index.put(doc("a", etag="1"), None)
    index.put(doc("b", etag="2"), None)
    assert documents_by_id(index, ["a", "zz", "b"]) == {"a": doc("a", etag="1"), "b": doc("b", etag="2")}
    assert index.batches == [["a", "zz", "b"]] and index.gets == 0
    assert documents_by_id(index, []) == {} and len(index.batches) == 1  # nothing to ask: no call


def test_compare_and_set_writes_against_the_version_it_read():
    index = CountingIndex()
    index.put(doc("a", n=1), None)

    def bump(current):
        index.put({**current.doc, "n": current.doc["n"] + 1}, current.version)
        return "written"

    assert compare_and_set(index, "a", bump) == "written"
    assert index.get("a").doc["n"] == 2 and index.gets == 2  # one read by the loop, one here


def test_compare_and_set_uses_the_document_the_caller_just_read():
    index = CountingIndex()
    assert compare_and_set(index, "new", lambda current: current, current=None) is None
    assert index.gets == 0


def test_a_conflict_reads_again_and_decides_again():
    index = CountingIndex()
    index.put(doc("a", n=1), None)
    seen = []

    def attempt(current):
        seen.append(current.doc["n"])
        if len(seen) == 1:  # someone else writes between our read and our write
            index.put({**current.doc, "n": 10}, current.version)
        index.put({**current.doc, "n": current.doc["n"] + 1}, current.version)
        return True

    assert compare_and_set(index, "a", attempt)
    assert seen == [1, 10] and index.get("a").doc["n"] == 11


def test_a_document_that_keeps_changing_is_a_transient_error():
    index = FakeIndex()
    calls = []

    def always_conflicts(current):
        calls.append(current)
        raise VersionConflict("a")

    with pytest.raises(TransientError, match="kept changing during 3 conditional writes"):
        compare_and_set(index, "a", always_conflicts, attempts=3)
    assert len(calls) == 3


def test_an_attempt_may_decide_to_write_nothing():
    index = FakeIndex()
    index.put(doc("a", sequencer="B"), None)
    assert compare_and_set(index, "a", lambda current: False) is False
    assert index.puts == 1
