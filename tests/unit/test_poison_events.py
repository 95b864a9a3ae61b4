"""Poison events fail fast: whatever JSON arrives, parsing gives storage events or MalformedEvent (never another
exception, which would be retried as a passing fault); the SQS handler dead-letters a malformed message on its
first delivery with the reason, the direct S3 handler too; a forged sequencer is refused; a missing bucket is a
configuration error, not a file gone."""

from __future__ import annotations

import copy
import json

import boto3
import pytest
from hypothesis import given, settings as hsettings, strategies as st
from moto import mock_aws

from mediaindex.adapters.s3_events import MalformedEvent, events_from_message_body, events_from_notification
from mediaindex.adapters.storage.s3 import S3Storage
from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.entrypoints import aws_lambda
from mediaindex.entrypoints.cli.invoke import LocalContext
from mediaindex.ports import ObjectRef
from mediaindex.services.indexing import Pipeline
from tests.fakes import FakeAnalyzer, FakeIndex
from tests.unit.test_lambda_handlers import BUCKET, aws, batch, jpeg, wire  # noqa: F401 - fixtures

GOOD = {"eventName": "ObjectCreated:Put", "eventTime": "2024-01-01T00:00:00.000Z",
        "s3": {"bucket": {"name": "b"}, "object": {"key": "a.jpg", "size": 3, "eTag": "e", "sequencer": "0055AED6DCD90281E5"}}}


def with_(path: str, value) -> dict:
    record = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = record
    for p in parents:
        node = node[p]
    node[last] = value
    return {"Records": [record]}


POISON = {
    "a top-level list": [GOOD],
    "Records that is an object": {"Records": GOOD},
    "Records that is a string": {"Records": "x"},
    "a record that is a number": {"Records": [7]},
    "eventName a number": with_("eventName", 5),
    "bucket a list": with_("s3.bucket.name", ["b"]),
    "an empty bucket": with_("s3.bucket.name", ""),
    "key a number": with_("s3.object.key", 12),
    "an empty key": with_("s3.object.key", ""),
    "object a string": with_("s3.object", "a.jpg"),
    "size a word": with_("s3.object.size", "abc"),
    "a negative size": with_("s3.object.size", -1),
    "size true": with_("s3.object.size", True),
    "a forged sequencer": with_("s3.object.sequencer", "ZZZZZZZZ"),
    "a sequencer of 65 digits": with_("s3.object.sequencer", "F" * 65),
    "a sequencer number": with_("s3.object.sequencer", 12),
    "eTag an object": with_("s3.object.eTag", {}),
    "eventTime a number": with_("eventTime", 1),
}


@pytest.mark.parametrize("notification", POISON.values(), ids=POISON.keys())
def test_each_poison_notification_is_malformed_with_a_reason(notification):
    with pytest.raises(MalformedEvent) as caught:
        events_from_notification(notification)
    assert str(caught.value)
    with pytest.raises(MalformedEvent):
        events_from_message_body(json.dumps(notification))


def test_a_real_record_still_parses():
    [event] = events_from_notification({"Records": [GOOD]})
    assert (event.ref, event.sequencer, event.size) == (ObjectRef("b", "a.jpg"), "0055AED6DCD90281E5", 3)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["Records", "eventName", "s3", "bucket", "name", "object", "key", "size", "sequencer",
                         "eTag", "eventTime", "Event", "Type", "Message", "x"]), children, max_size=5),
    max_leaves=25,
)


def _mutated(value):
    """A real record with one field replaced by arbitrary JSON."""
    return st.sampled_from(["eventName", "s3", "s3.bucket", "s3.bucket.name", "s3.object", "s3.object.key",
                            "s3.object.size", "s3.object.sequencer", "s3.object.eTag", "eventTime"]).map(
        lambda path: with_(path, value))


@hsettings(max_examples=400, deadline=None)
@given(document=st.one_of(JSON, JSON.flatmap(_mutated)))
def test_any_json_gives_events_or_malformed_never_another_error(document):
    for parse in (lambda: events_from_notification(document), lambda: events_from_message_body(json.dumps(document))):
        try:
            events = parse()
        except MalformedEvent:
            continue
        for event in events:
            assert isinstance(event.ref.bucket, str) and event.ref.bucket and event.ref.key
            assert event.sequencer is None or all(c in "0123456789abcdefABCDEF" for c in event.sequencer)
            assert event.size is None or (isinstance(event.size, int) and event.size >= 0)


@pytest.mark.parametrize("body", [None, "", json.dumps([GOOD]), json.dumps({"Records": {"a": 1}}),
                                  json.dumps(with_("s3.object.key", "")), json.dumps(with_("s3.object.sequencer", "zz")),
                                  "[" * 100_000])
def test_the_sqs_handler_dead_letters_a_poison_message_on_its_first_delivery(aws, body):  # noqa: F811
    s3, sqs, dlq_url = aws
    wire(sqs, dlq_url)
    event = batch()
    event["Records"] = [event["Records"][0]]
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "1"
    if body is None:
        del event["Records"][0]["body"]
    else:
        event["Records"][0]["body"] = body
    assert aws_lambda.sqs_handler(event, LocalContext()) == {"batchItemFailures": []}
    [message] = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    attrs = message["MessageAttributes"]
    assert attrs["error_type"]["StringValue"] == "MalformedEvent" and attrs["error_message"]["StringValue"]
    assert attrs["receive_count"]["StringValue"] == "1"


def test_the_direct_handler_dead_letters_a_poison_event_instead_of_being_retried(aws):  # noqa: F811
    s3, sqs, dlq_url = aws
    wire(sqs, dlq_url)
    result = aws_lambda.s3_handler([GOOD], LocalContext())
    assert "MalformedEvent" in result["dead_lettered"]
    [message] = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"]) == [GOOD]
    wire(sqs, None)  # without a dead-letter queue, Lambda's retries and on-failure destination keep it
    with pytest.raises(MalformedEvent):
        aws_lambda.s3_handler({"Records": "x"}, LocalContext())


def test_a_forged_sequencer_cannot_make_later_events_stale(aws):  # noqa: F811
    s3, sqs, dlq_url = aws
    s3.put_object(Bucket=BUCKET, Key="a.jpg", Body=jpeg())
    pipeline = wire(sqs, dlq_url)
    forged = batch()
    forged["Records"] = [forged["Records"][0]]
    body = json.loads(forged["Records"][0]["body"])
    body["Records"][0]["s3"]["object"].update(key="a.jpg", sequencer="ZZZZZZZZZZZZZZZZ")
    forged["Records"][0]["body"] = json.dumps(body)
    aws_lambda.sqs_handler(forged, LocalContext())
    assert pipeline.index.docs == {}  # refused, nothing written with the forged order
    body["Records"][0]["s3"]["object"]["sequencer"] = "0055AED6DCD90281E5"
    forged["Records"][0]["body"] = json.dumps(body)
    aws_lambda.sqs_handler(forged, LocalContext())
    assert [d["status"] for d, _ in pipeline.index.docs.values()] == ["indexed"]


def test_a_missing_bucket_is_a_configuration_error_not_a_file_gone():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="real")
        storage = S3Storage(client)
        pipeline = Pipeline(storage=storage, analyzer=FakeAnalyzer(), index=FakeIndex())
        with pytest.raises(ConfigurationError, match="'nowhere' does not exist"):
            pipeline.handle(StorageEvent(CREATED, ObjectRef("nowhere", "a.jpg")))
        with pytest.raises(ConfigurationError, match="does not exist"):
            storage.exists(ObjectRef("nowhere", "a.jpg"))
        # a missing key in a bucket that exists is still a file gone
        assert pipeline.handle(StorageEvent(CREATED, ObjectRef("real", "a.jpg"))).action == "gone"
        assert storage.exists(ObjectRef("real", "a.jpg")) is False


def test_the_good_records_of_a_message_are_indexed_and_the_message_dead_lettered_for_the_bad(aws):  # noqa: F811
    s3, sqs, dlq_url = aws
    s3.put_object(Bucket=BUCKET, Key="good.jpg", Body=jpeg())
    pipeline = wire(sqs, dlq_url)
    good = copy.deepcopy(GOOD)
    good["s3"]["bucket"]["name"] = BUCKET
    good["s3"]["object"].update(key="good.jpg", sequencer="0A")
    bad = with_("s3.object.sequencer", "not-hex")["Records"][0]
    event = batch()
    event["Records"] = [event["Records"][0]]
    event["Records"][0]["body"] = json.dumps({"Records": [good, bad]})
    assert aws_lambda.sqs_handler(event, LocalContext()) == {"batchItemFailures": []}
    assert [d["key"] for d, _ in pipeline.index.docs.values()] == ["good.jpg"]
    [message] = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert "record 1" in message["MessageAttributes"]["error_message"]["StringValue"]
    # the same through the direct handler
    pipeline = wire(sqs, dlq_url)
    result = aws_lambda.s3_handler({"Records": [good, bad]}, LocalContext())
    assert [o["key"] for o in result["outcomes"]] == ["good.jpg"] and "record 1" in result["dead_lettered"]


# ---- archived objects, restores, sequencers of S3's shape, whole batches failing -----------------------------------
def _message(event, key: str, name: str = "ObjectCreated:Put", sequencer: str | None = "0055AED6DCD90281E5"):
    record = copy.deepcopy(GOOD)
    record["eventName"] = name
    record["s3"]["bucket"]["name"] = BUCKET
    record["s3"]["object"].update(key=key)
    if sequencer is None:
        del record["s3"]["object"]["sequencer"]
    else:
        record["s3"]["object"]["sequencer"] = sequencer
    event = copy.deepcopy(event)
    event["Records"] = [event["Records"][0]]
    event["Records"][0]["body"] = json.dumps({"Records": [record]})
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "1"
    return event


@pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE"])
def test_an_archived_object_gets_a_failed_document_and_its_restore_indexes_it(aws, storage_class):  # noqa: F811
    s3, sqs, dlq_url = aws
    s3.put_object(Bucket=BUCKET, Key="old.jpg", Body=jpeg(), StorageClass=storage_class)
    pipeline = wire(sqs, dlq_url)
    assert aws_lambda.sqs_handler(_message(batch(), "old.jpg"), LocalContext()) == {"batchItemFailures": []}
    [(doc, _)] = pipeline.index.docs.values()
    assert doc["status"] == "failed" and doc["error"].startswith("archived: ") and storage_class in doc["error"]
    assert "restore it" in doc["error"]
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq_url)  # not a passing fault: nothing dead-lettered
    # delivered again: the failed document stands (no retry until it is dead-lettered)
    assert aws_lambda.sqs_handler(_message(batch(), "old.jpg"), LocalContext()) == {"batchItemFailures": []}
    s3.restore_object(Bucket=BUCKET, Key="old.jpg", RestoreRequest={"Days": 1})
    restored = _message(batch(), "old.jpg", name="ObjectRestore:Completed", sequencer=None)
    assert aws_lambda.sqs_handler(restored, LocalContext()) == {"batchItemFailures": []}
    [(doc, _)] = pipeline.index.docs.values()
    assert doc["status"] == "indexed" and doc["sequencer"] == "0055AED6DCD90281E5"


def test_a_get_refused_as_archived_is_the_same_failure(aws):  # noqa: F811
    s3, sqs, dlq_url = aws
    s3.put_object(Bucket=BUCKET, Key="cold.jpg", Body=jpeg(), StorageClass="GLACIER")
    pipeline = wire(sqs, dlq_url)
    storage = pipeline.storage
    head = storage.client.head_object
    storage.client.head_object = lambda **kw: {k: v for k, v in head(**kw).items() if k != "StorageClass"}
    aws_lambda.sqs_handler(_message(batch(), "cold.jpg"), LocalContext())
    [(doc, _)] = pipeline.index.docs.values()
    assert doc["status"] == "failed" and doc["error"].startswith("archived: ")


@hsettings(max_examples=50, deadline=None)
@given(st.text("0123456789abcdefABCDEF", min_size=21, max_size=200))
def test_a_sequencer_longer_than_s3s_is_refused(sequencer):
    with pytest.raises(MalformedEvent, match="at most 20 digits"):
        events_from_notification(with_("s3.object.sequencer", sequencer))


def test_a_forged_sequencer_of_s3s_length_cannot_keep_a_deleted_file_in_the_index(aws):  # noqa: F811
    s3, sqs, dlq_url = aws
    s3.put_object(Bucket=BUCKET, Key="a.jpg", Body=jpeg())
    pipeline = wire(sqs, dlq_url)
    aws_lambda.sqs_handler(_message(batch(), "a.jpg", sequencer="F" * 20), LocalContext())  # forged, indexed
    assert [d["status"] for d, _ in pipeline.index.docs.values()] == ["indexed"]
    s3.delete_object(Bucket=BUCKET, Key="a.jpg")
    deleted = _message(batch(), "a.jpg", name="ObjectRemoved:Delete", sequencer="0055AED6DCD90281F0")
    assert aws_lambda.sqs_handler(deleted, LocalContext()) == {"batchItemFailures": []}
    [(doc, _)] = pipeline.index.docs.values()
    assert doc["status"] == "deleted"
    # a delete that is really older than a file that is there stays stale
    s3.put_object(Bucket=BUCKET, Key="b.jpg", Body=jpeg())
    aws_lambda.sqs_handler(_message(batch(), "b.jpg", sequencer="0055AED6DCD90281F5"), LocalContext())
    late = _message(batch(), "b.jpg", name="ObjectRemoved:Delete", sequencer="0055AED6DCD90281E0")
    aws_lambda.sqs_handler(late, LocalContext())
    assert sorted(d["status"] for d, _ in pipeline.index.docs.values()) == ["deleted", "indexed"]


def test_a_batch_whose_every_record_fails_returns_them_all_as_failures(aws):  # noqa: F811
    s3, sqs, dlq_url = aws
    wire(sqs, None)  # no dead-letter queue: SQS's redrive policy keeps poison messages
    event = batch()
    for record in event["Records"]:
        record["body"] = "not json"
    result = aws_lambda.sqs_handler(event, LocalContext())  # before: BatchProcessingError for the whole batch
    assert result == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}


@pytest.mark.parametrize("event", [{"Records": [{"eventSource": "aws:sqs", "messageId": "m1", "body": "not json",
                                                 "attributes": {"ApproximateReceiveCount": "1"}}]},
                                   {"Records": "x"}, [1, 2], {"Records": [{}]}])
def test_invoke_prints_a_one_line_result_for_a_poison_event(tmp_path, capsys, monkeypatch, event):
    from mediaindex.entrypoints.cli import main

    monkeypatch.setenv("MEDIAINDEX_INDEX", f"sqlite:///{tmp_path / 'index.db'}")
    monkeypatch.setenv("MEDIAINDEX_ANALYZER", "local")
    monkeypatch.delenv("MEDIAINDEX_DLQ_URL", raising=False)
    aws_lambda.configure(None)
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    try:
        code = main(["invoke", str(path)])
    finally:
        aws_lambda.configure(None)
    out, err = capsys.readouterr()
    assert code == 1 and len(out.strip().splitlines()) == 1, out
    result = json.loads(out)
    assert result.get("malformed") or result.get("batchItemFailures") == [{"itemIdentifier": "m1"}]
    assert "Traceback" not in err
