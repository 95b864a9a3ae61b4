"""Parsing S3 notifications: the sample events in events/, key decoding, test events, envelopes, bad messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaindex.adapters.s3_events import (
    MalformedEvent,
    events_from_message_body,
    events_from_notification,
    notification_for,
)
from mediaindex.domain.messages import CREATED, REMOVED, StorageEvent
from mediaindex.ports import ObjectRef

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "name, kind, key, event_name",
    [
        ("put.json", CREATED, "photos/obama_1.jpg", "ObjectCreated:Put"),
        ("copy.json", CREATED, "photos/copy of obama_1.jpg", "ObjectCreated:Copy"),
        ("multipart-upload.json", CREATED, "archive/2024/two_people_obama_biden.jpg", "ObjectCreated:CompleteMultipartUpload"),
        ("delete.json", REMOVED, "photos/copy of obama_1.jpg", "ObjectRemoved:Delete"),
        ("delete-marker.json", REMOVED, "archive/2024/two_people_obama_biden.jpg", "ObjectRemoved:DeleteMarkerCreated"),
        ("special-keys.json", CREATED, "café/東京 guido_van_rossum.jpg", "ObjectCreated:Put"),
    ],
)
def test_sample_events_parse_with_decoded_keys(name, kind, key, event_name):
    [event] = events_from_notification(load(name))
    assert (event.kind, event.ref.key, event.event_name) == (kind, key, event_name)
    assert event.ref.bucket == "mediaindex-demo-bucket" and event.sequencer


def test_test_event_yields_nothing():
    assert events_from_notification(load("test-event.json")) == []


def test_sqs_batch_bodies_decode_plus_percent_and_unicode():
    keys = [e.ref.key for r in load("sqs-batch.json")["Records"] for e in events_from_message_body(r["body"])]
    assert keys == ["people & places/two people+1.jpg", "odd/100% sure (wozniak).jpg", "photos/biden_1.jpg"]


def test_sns_envelope_is_unwrapped():
    body = json.dumps({"Type": "Notification", "Message": json.dumps(load("put.json"))})
    assert [e.ref.key for e in events_from_message_body(body)] == ["photos/obama_1.jpg"]


def test_events_we_do_not_handle_are_ignored():
    doc = load("put.json")
    for name in ("ObjectRestore:Post", "ObjectTagging:Put", "Replication:OperationFailedReplication"):
        doc["Records"][0]["eventName"] = name
        assert events_from_notification(doc) == []


def test_a_restore_completed_is_a_file_to_index():
    doc = load("put.json")
    doc["Records"][0]["eventName"] = "ObjectRestore:Completed"
    [event] = events_from_notification(doc)
    assert event.kind == CREATED and event.event_name == "ObjectRestore:Completed"


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"hello": "world"}), json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]})])
def test_malformed_messages_say_what_is_wrong(body):
    with pytest.raises(MalformedEvent):
        events_from_message_body(body)


@given(key=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=60))
def test_notification_for_round_trips_any_key(key):
    event = StorageEvent(CREATED, ObjectRef("b", key), sequencer="0A", etag="e", size=3)
    [back] = events_from_notification(notification_for([event]))
    assert back.ref == event.ref and back.kind == CREATED and back.sequencer == "0A"
