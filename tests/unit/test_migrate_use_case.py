"""The migrate use case on the ports alone (in-memory fakes): what it copies, where it resumes, what it refuses."""

from __future__ import annotations

import random

import pytest

from mediaindex.domain.errors import ConfigurationError
from mediaindex.ports import FACE, PERSON, StoredFaceVector
from mediaindex.services.migrate import CountMismatch, Migration
from tests.fakes import FakeIndex
from tests.index.corpus import random_doc


class MemoryCheckpoint:
    path = "memory"

    def __init__(self) -> None:
        self.state = None

    def load(self):
        return self.state

    def save(self, checkpoint, done, totals):
        self.state = {"source": "test", "checkpoint": checkpoint, "done": done, "totals": dict(totals)}

    def clear(self):
        self.state = None


class MemoryVectors:
    """Both vector ports in memory: a source (a list in position order) and a target (a dict by id)."""

    def __init__(self, vectors=()) -> None:
        self.vectors = list(vectors)
        self.stored: dict[str, StoredFaceVector] = {}
        self.writes = 0

    def count_vectors(self, kind):
        held = self.vectors if self.vectors else self.stored.values()  # a source counts its list, a target its dict
        return sum(v.kind == kind for v in held)

    def iter_vectors(self, kind, after=0):
        return (v for v in self.vectors if v.kind == kind and v.position > after)

    def ensure_ready(self):
        pass

    def refresh(self):
        pass

    def put_vectors(self, vectors, chunk_size=500):
        for v in vectors:
            self.stored[v.id] = v
            self.writes += 1
        return self.writes


def _source(n=120):
    rng = random.Random(3)
    index = FakeIndex()
    index.put_many(random_doc(rng, i) for i in range(n))
    vectors = [StoredFaceVector(FACE if i % 4 else PERSON, f"v{i}", "sface-2021dec-int8bq", [0.0] * 128,
                                position=i + 1) for i in range(30)]
    return index, MemoryVectors(vectors)


def test_documents_and_vectors_are_copied_in_batches_and_counted():
    source, vectors = _source()
    target, target_vectors = FakeIndex(), MemoryVectors()
    report = Migration(source, target, MemoryCheckpoint(), vectors, target_vectors, batch_size=25).run()
    assert report.counts.verified and len(target.docs) == len(source.docs)
    assert set(target_vectors.stored) == {v.id for v in vectors.vectors}
    assert report.counts.source["faces"] + report.counts.source["people"] == 30


def test_resuming_skips_what_was_copied():
    source, vectors = _source()
    target, checkpoint = FakeIndex(), MemoryCheckpoint()
    calls = []

    def stop(what, n):
        calls.append(n)
        if len(calls) == 2:
            raise RuntimeError("the cluster went away")

    with pytest.raises(RuntimeError):
        Migration(source, target, checkpoint, batch_size=10, progress=stop).run()
    assert len(target.docs) == 20 and checkpoint.state["totals"]["documents"] == 20
    written = []
    target.put_many = lambda docs, chunk_size=500: written.extend(docs) or len(docs)  # type: ignore[method-assign]
    with pytest.raises(CountMismatch):  # the stub writes nowhere: the count check notices
        Migration(source, target, checkpoint, batch_size=10).run()
    assert len(written) == len(source.docs) - 20  # only the documents after the checkpoint were written again


def test_a_checkpoint_whose_last_document_is_gone_asks_for_a_restart():
    source, _ = _source()
    target, checkpoint = FakeIndex(), MemoryCheckpoint()
    checkpoint.save('{"documents": "no-such-id"}', False, {"documents": 10})
    with pytest.raises(ConfigurationError, match="--restart"):
        Migration(source, target, checkpoint).run()
    assert Migration(source, target, checkpoint).run(restart=True).counts.verified


def test_an_extra_document_in_the_target_fails_the_check():
    source, _ = _source(20)
    target = FakeIndex()
    target.put_many([random_doc(random.Random(9), 999, statuses=False)])
    with pytest.raises(CountMismatch, match="indexed"):
        Migration(source, target, MemoryCheckpoint()).run()
