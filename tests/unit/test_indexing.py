"""The indexing use cases on fakes at the seams: ordering, repetition, reuse, bad files."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mediaindex.domain import document as docs
from mediaindex.domain.errors import TransientError
from mediaindex.domain.messages import CREATED, REMOVED, StorageEvent
from mediaindex.ports import ObjectRef
from mediaindex.services import indexing
from mediaindex.services.indexing import Pipeline
from tests.fakes import FakeAnalyzer, FakeFaces, FakeIndex, FakeStorage


def jpeg(color=(200, 30, 30), size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def make(storage=None, analyzer=None, faces=None) -> Pipeline:
    return Pipeline(storage=storage or FakeStorage(), analyzer=analyzer or FakeAnalyzer(), index=FakeIndex(), faces=faces)


def created(key, seq=None, bucket="media", etag=None, size=None):
    return StorageEvent(CREATED, ObjectRef(bucket, key), sequencer=seq, etag=etag, size=size, event_name="ObjectCreated:Put")


def removed(key, seq=None, bucket="media"):
    return StorageEvent(REMOVED, ObjectRef(bucket, key), sequencer=seq, event_name="ObjectRemoved:Delete")


def test_a_created_file_gets_one_document_with_its_analysis():
    p = make(faces=FakeFaces())
    p.storage.write("a/b c.jpg", jpeg())
    outcome = p.handle(created("a/b c.jpg", "0A"))
    assert outcome.action == indexing.INDEXED
    doc = p.index.get(docs.document_id("media", "a/b c.jpg")).doc
    assert doc["status"] == "indexed" and doc["key"] == "a/b c.jpg" and doc["bucket"] == "media"
    assert doc["media_type"] == "image" and doc["content_type"] == "image/jpeg"
    assert (doc["width"], doc["height"]) == (64, 48)
    assert doc["label_names"] == ["thing", "object", "wide"]
    assert doc["people"] == ["Ada Lovelace"] and doc["faces"][0]["similarity"] == 95.0
    assert "embedding" not in doc["faces"][0]
    assert outcome.api_calls == 3  # two analysis calls + one face search


def test_same_event_twice_is_a_duplicate_and_analyses_once():
    p = make()
    p.storage.write("k.jpg", jpeg())
    assert p.handle(created("k.jpg", "0055AED6DCD90281E5")).action == indexing.INDEXED
    assert p.handle(created("k.jpg", "0055AED6DCD90281E5")).action == indexing.DUPLICATE
    assert p.analyzer.calls == 1


def test_sequencers_of_different_lengths_compare_after_right_padding():
    assert docs.sequencer_newer("0055AED6DCD90281E6", "0055AED6DCD90281E5") is True
    assert docs.sequencer_newer("0055AED6DCD90281E5", "0055AED6DCD90281E500") is False
    assert docs.sequencer_newer("0055AED6DCD90281E501", "0055AED6DCD90281E5") is True
    assert docs.sequencer_newer(None, "01") is None


def test_an_older_delete_does_not_remove_a_newer_file_and_an_older_create_does_not_resurrect():
    p = make()
    p.storage.write("k.jpg", jpeg())
    p.handle(created("k.jpg", "05"))
    assert p.handle(removed("k.jpg", "03")).action == indexing.STALE
    assert "k.jpg" in p.index.live()
    del p.storage.objects["k.jpg"]
    assert p.handle(removed("k.jpg", "07")).action == indexing.REMOVED_DOC
    p.storage.write("k.jpg", jpeg())  # storage has it again, but the event is older than the delete
    assert p.handle(created("k.jpg", "06")).action == indexing.STALE
    assert "k.jpg" not in p.index.live()


def test_a_file_deleted_before_processing_is_not_an_error():
    p = make()
    assert p.handle(created("gone.jpg", "01")).action == indexing.GONE
    assert p.index.docs == {}


def test_without_sequencers_storage_decides():
    p = make()
    p.storage.write("k.jpg", jpeg())
    p.handle(created("k.jpg"))
    # a removal arriving while the file exists again must not remove it
    assert p.handle(removed("k.jpg")).action == indexing.STALE
    del p.storage.objects["k.jpg"]
    assert p.handle(removed("k.jpg")).action == indexing.REMOVED_DOC
    assert p.handle(removed("k.jpg")).action == indexing.DUPLICATE


def test_same_bytes_under_another_key_reuse_the_analysis():
    p = make()
    data = jpeg()
    p.storage.write("a.jpg", data)
    p.storage.write("copy/a.jpg", data)
    p.handle(created("a.jpg", "01"))
    outcome = p.handle(created("copy/a.jpg", "02"))
    assert outcome.action == indexing.REUSED and outcome.api_calls == 0
    assert p.analyzer.calls == 1
    assert p.index.live()["copy/a.jpg"]["labels"] == p.index.live()["a.jpg"]["labels"]


def test_unchanged_file_without_sequencer_is_skipped_without_reading():
    p = make()
    p.storage.write("a.jpg", jpeg())
    obj = p.storage.read(ObjectRef("media", "a.jpg"))
    p.handle(created("a.jpg", etag=obj.etag, size=obj.size))
    reads = p.storage.reads
    assert p.handle(created("a.jpg", etag=obj.etag, size=obj.size)).action == indexing.UNCHANGED
    assert p.storage.reads == reads


@pytest.mark.parametrize(
    "data, code",
    [
        (b"", "empty_file"),
        (b"%PDF-1.4 not a picture", "unsupported"),
        (jpeg()[:200], "corrupt"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt"),
    ],
)
def test_a_bad_file_gets_a_failed_document_with_a_reason(data, code):
    p = make()
    p.storage.write("bad.jpg", data)
    outcome = p.handle(created("bad.jpg", "01"))
    assert outcome.action == indexing.FAILED
    doc = p.index.live()["bad.jpg"]
    assert doc["status"] == "failed" and doc["error"].startswith(code + ":")
    assert p.analyzer.calls == 0


def test_a_transient_analyzer_failure_propagates_and_writes_nothing():
    p = make(analyzer=FakeAnalyzer(fail_with=TransientError("Rekognition throttled")))
    p.storage.write("a.jpg", jpeg())
    with pytest.raises(TransientError):
        p.handle(created("a.jpg", "01"))
    assert p.index.docs == {}


def test_a_lost_race_rereads_and_keeps_the_newer_state():
    p = make()
    p.storage.write("k.jpg", jpeg())
    real_put = p.index.put
    # Another worker writes a newer tombstone between our read and our write.
    def racing_put(doc, expected):
        p.index.put = real_put
        real_put(docs.tombstone("media", "k.jpg", "09"), expected)
        real_put(doc, expected)
    p.index.put = racing_put
    assert p.handle(created("k.jpg", "05")).action == indexing.STALE
    assert "k.jpg" not in p.index.live()


# ---- the property: any order, any repetition, the index ends equal to the bucket -------------------------------
KEYS = ["a.jpg", "dir/b c.jpg", "ünï+%.jpg"]
COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9)]
operation = st.tuples(st.sampled_from(KEYS), st.sampled_from(["put", "delete"]), st.sampled_from(range(len(COLORS))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=1, max_size=12), data=st.data(), with_sequencer=st.booleans())
def test_shuffled_and_repeated_events_leave_the_index_equal_to_the_bucket(ops, data, with_sequencer):
    storage = FakeStorage()
    events = []
    for n, (key, op, color) in enumerate(ops, start=1):
        seq = f"{n:016X}" if with_sequencer else None
        if op == "put":
            storage.write(key, jpeg(COLORS[color]))
            events.append(created(key, seq))
        else:
            storage.objects.pop(key, None)
            events.append(removed(key, seq))
    # deliveries: every event at least once, some twice, in any order
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    deliveries = data.draw(st.permutations(events + repeats))
    p = Pipeline(storage=storage, analyzer=FakeAnalyzer(), index=FakeIndex())
    for event in deliveries:
        p.handle(event)
    import hashlib

    live = p.index.live()
    assert set(live) == set(storage.objects)
    for key, content in storage.objects.items():
        assert live[key]["content_sha256"] == hashlib.sha256(content).hexdigest()
        assert live[key]["status"] == "indexed"
