"""No half-indexed file: when the face vectors cannot be kept (faces.db locked by another process past the busy
timeout, or any failure of the vector write, or of the document write after it), the file is an `error` without a
document, so the next run indexes it again and its faces get named; never a document whose faces were not kept."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from mediaindex.adapters.faces.local import LocalFaceCollection
from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.adapters.storage.folder import FolderStorage, ref_for
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.errors import TransientError
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.services.indexing import Pipeline
from mediaindex.services.people import People
from tests.people.test_people_service import BOB, ColourAnalyzer, png
from tests.people.vectors import photo_of

BOB_COLOUR = (0, 250, 0)


def build(tmp_path):
    settings = Settings(home=tmp_path, features=("faces", "people"))
    index = SqliteIndex(str(tmp_path / "index.db"), "media")
    index.ensure_ready()
    collection = LocalFaceCollection(settings)
    pipeline = Pipeline(storage=FolderStorage(), analyzer=ColourAnalyzer(), index=index, faces=collection)
    return pipeline, collection


def event(path) -> StorageEvent:
    st_ = path.stat()
    return StorageEvent(CREATED, ref_for(path), etag=f"{st_.st_mtime_ns:x}-{st_.st_size:x}", size=st_.st_size)


def test_a_locked_face_collection_leaves_no_document_and_the_rerun_repairs(tmp_path):
    photo = tmp_path / "bob.png"
    photo.write_bytes(png(BOB_COLOUR))
    pipeline, collection = build(tmp_path)
    collection.enroll_embeddings("Bob", [photo_of(BOB, 9)], "enrol.png")
    collection.store.db.execute("PRAGMA busy_timeout = 50")  # the real 30 s, shortened
    other = sqlite3.connect(str(collection.path), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    with pytest.raises(TransientError, match="busy"):
        pipeline.handle(event(photo))
    doc_id = docs.document_id("", str(photo))
    assert pipeline.index.get(doc_id) is None  # nothing says the file is done
    other.execute("ROLLBACK")
    outcome = pipeline.handle(event(photo))  # the next run
    assert outcome.action == "indexed"
    doc = pipeline.index.get(doc_id).doc
    assert doc["people"] == ["Bob"]
    assert collection.remembered_count(doc["content_sha256"]) == 1
    collection.close()


@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(["remember", "put"]), exc=st.sampled_from([OSError, sqlite3.OperationalError, KeyboardInterrupt]))
def test_whichever_write_fails_a_rerun_leaves_document_and_vectors_together(tmp_path_factory, where, exc):
    tmp_path = tmp_path_factory.mktemp("half")
    photo = tmp_path / "bob.png"
    photo.write_bytes(png(BOB_COLOUR))
    pipeline, collection = build(tmp_path)
    target = collection if where == "remember" else pipeline.index
    real = getattr(target, where)
    setattr(target, where, lambda *a, **k: (_ for _ in ()).throw(exc("injected")))
    with pytest.raises(exc):
        pipeline.handle(event(photo))
    setattr(target, where, real)
    doc_id = docs.document_id("", str(photo))
    assert pipeline.index.get(doc_id) is None
    assert pipeline.handle(event(photo)).action == "indexed"
    doc = pipeline.index.get(doc_id).doc
    assert collection.remembered_count(doc["content_sha256"]) == doc["face_count"] == 1
    # and an enrolment afterwards names the person in it, from the remembered vector alone
    people = People(settings=collection.settings, pipeline=pipeline, memory=collection)
    collection.enroll_embeddings("Bob", [photo_of(BOB, 9)], "enrol.png")
    people.rematch()
    assert pipeline.index.get(doc_id).doc["people"] == ["Bob"]
    collection.close()


def test_a_copy_of_a_file_whose_vectors_were_never_kept_is_analysed_again(tmp_path):
    """A document written before vectors came first, without its vectors: a copy of its bytes is not given the
    analysis as it is (its faces could never be named), it is analysed and its vectors kept."""
    first, copy = tmp_path / "a.png", tmp_path / "b.png"
    first.write_bytes(png(BOB_COLOUR))
    copy.write_bytes(png(BOB_COLOUR))
    pipeline, collection = build(tmp_path)
    real = collection.remember
    collection.remember = lambda *a, **k: None  # the old order's failure: the document without its vectors
    assert pipeline.handle(event(first)).action == "indexed"
    collection.remember = real
    sha = pipeline.index.get(docs.document_id("", str(first))).doc["content_sha256"]
    assert collection.remembered_count(sha) == 0
    assert pipeline.handle(event(copy)).action == "indexed"  # not "reused"
    assert collection.remembered_count(sha) == 1
    assert pipeline.handle(event(tmp_path / "b.png")).action == "unchanged"
    collection.close()
