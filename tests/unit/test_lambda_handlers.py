"""The Lambda handlers on moto's S3 and SQS: batches with partial failure, dead-lettering with a reason, direct S3
invocation where one bad record does not stop the others."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from mediaindex.bootstrap import build_app
from mediaindex.adapters.storage.s3 import S3Storage
from mediaindex.config import Settings
from mediaindex.domain.errors import TransientError
from mediaindex.entrypoints import aws_lambda
from mediaindex.entrypoints.cli.invoke import LocalContext
from mediaindex.services.indexing import Pipeline
from tests.fakes import FakeAnalyzer, FakeIndex

EVENTS = Path(__file__).resolve().parents[2] / "events"
BUCKET = "mediaindex-demo-bucket"


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq_url = sqs.create_queue(QueueName="mediaindex-dlq")["QueueUrl"]
        yield s3, sqs, dlq_url
    aws_lambda.configure(None)


def wire(sqs, dlq_url, analyzer=None, max_receives=3) -> Pipeline:
    pipeline = Pipeline(storage=S3Storage(boto3.client("s3", region_name="us-east-1")), analyzer=analyzer or FakeAnalyzer(), index=FakeIndex())
    settings = Settings(analyzer="rekognition", dlq_url=dlq_url, max_receives=max_receives)
    aws_lambda.configure(build_app(settings, pipeline=pipeline, sqs=sqs))
    return pipeline


def batch() -> dict:
    return json.loads((EVENTS / "sqs-batch.json").read_text(encoding="utf-8"))


def test_an_sqs_batch_indexes_every_file_under_its_decoded_key(aws):
    s3, sqs, dlq_url = aws
    for key in ["people & places/two people+1.jpg", "odd/100% sure (wozniak).jpg", "photos/biden_1.jpg"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=jpeg())
    pipeline = wire(sqs, dlq_url)
    result = aws_lambda.sqs_handler(batch(), LocalContext())
    assert result == {"batchItemFailures": []}
    assert sorted(pipeline.index.live()) == ["odd/100% sure (wozniak).jpg", "people & places/two people+1.jpg", "photos/biden_1.jpg"]


def test_a_failing_message_is_retried_alone_then_dead_lettered_with_its_reason(aws):
    s3, sqs, dlq_url = aws
    for key in ["people & places/two people+1.jpg", "odd/100% sure (wozniak).jpg", "photos/biden_1.jpg"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=jpeg())
    pipeline = wire(sqs, dlq_url)

    event = batch()
    failing_id = event["Records"][1]["messageId"]
    # First delivery: the failing message is reported, the others succeed.
    original = pipeline.storage.read

    def read(ref):
        if "wozniak" in ref.key:
            raise TransientError("S3 503 SlowDown")
        return original(ref)

    pipeline.storage.read = read
    result = aws_lambda.sqs_handler(event, LocalContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": failing_id}]}
    assert len(pipeline.index.live()) == 2
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq_url)

    # Last delivery: the message goes to the DLQ with its reason and is no longer reported as failed.
    last = copy.deepcopy(event)
    last["Records"] = [last["Records"][1]]
    last["Records"][0]["attributes"]["ApproximateReceiveCount"] = "3"
    assert aws_lambda.sqs_handler(last, LocalContext()) == {"batchItemFailures": []}
    [message] = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert message["Body"] == last["Records"][0]["body"]
    attrs = message["MessageAttributes"]
    assert attrs["error_type"]["StringValue"] == "TransientError"
    assert "SlowDown" in attrs["error_message"]["StringValue"]
    assert attrs["source_message_id"]["StringValue"] == failing_id


def test_a_message_that_is_not_an_s3_event_goes_to_the_dlq_at_once(aws):
    s3, sqs, dlq_url = aws
    wire(sqs, dlq_url)
    event = batch()
    event["Records"] = [event["Records"][0]]
    event["Records"][0]["body"] = "this is not json"
    assert aws_lambda.sqs_handler(event, LocalContext()) == {"batchItemFailures": []}
    [message] = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert message["MessageAttributes"]["error_type"]["StringValue"] == "MalformedEvent"


def test_without_a_dlq_configured_failures_stay_with_sqs(aws):
    s3, sqs, _ = aws
    pipeline = wire(sqs, None)
    event = batch()
    event["Records"] = [event["Records"][2]]  # the test event message: nothing to do
    event["Records"].append(copy.deepcopy(batch()["Records"][0]))
    event["Records"][1]["attributes"]["ApproximateReceiveCount"] = "99"
    # the file does not exist: a creation whose file is gone is not an error
    assert aws_lambda.sqs_handler(event, LocalContext()) == {"batchItemFailures": []}
    assert pipeline.index.docs == {}


def test_direct_s3_invocation_handles_all_records_and_reports_the_failed_one(aws):
    s3, sqs, dlq_url = aws
    s3.put_object(Bucket=BUCKET, Key="photos/obama_1.jpg", Body=jpeg())
    s3.put_object(Bucket=BUCKET, Key="café/東京 guido_van_rossum.jpg", Body=jpeg())
    pipeline = wire(sqs, dlq_url)
    put = json.loads((EVENTS / "put.json").read_text())
    special = json.loads((EVENTS / "special-keys.json").read_text())
    event = {"Records": put["Records"] + special["Records"]}
    original = pipeline.storage.read

    def read(ref):
        if ref.key.startswith("photos/"):
            raise TransientError("S3 is unavailable")
        return original(ref)

    pipeline.storage.read = read
    with pytest.raises(aws_lambda.RecordsFailed) as failed:
        aws_lambda.s3_handler(event, LocalContext())
    assert json.loads(str(failed.value)) == [
        {"bucket": BUCKET, "key": "photos/obama_1.jpg", "reason": "TransientError: S3 is unavailable"}
    ]
    assert list(pipeline.index.live()) == ["café/東京 guido_van_rossum.jpg"]


def test_a_long_video_continues_through_the_ingest_queue(aws):
    from mediaindex.adapters.s3_events import events_from_message_body
    from mediaindex.services.video import VideoContinued

    s3, sqs, dlq_url = aws
    ingest = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    pipeline = wire(sqs, dlq_url)
    aws_lambda.app().settings = Settings(analyzer="rekognition", dlq_url=dlq_url, queue_url=ingest)

    class Video:
        time_left = None

    pipeline.video = Video()

    def handle(event):
        raise VideoContinued(event.ref.key, next_start=120.0, duration=600.0)

    pipeline.handle = handle
    event = batch()
    event["Records"] = [event["Records"][0]]
    assert aws_lambda.sqs_handler(event, LocalContext()) == {"batchItemFailures": []}
    assert pipeline.video.time_left() == 900.0  # the invocation's remaining time, in seconds
    [message] = sqs.receive_message(QueueUrl=ingest)["Messages"]
    [again] = events_from_message_body(message["Body"])
    [original] = events_from_message_body(event["Records"][0]["body"])
    assert (again.ref, again.sequencer, again.kind) == (original.ref, original.sequencer, original.kind)

    # without a queue to continue through, the message fails (reported as a failed item, even when it is the
    # whole batch) and SQS brings it back after its visibility timeout
    aws_lambda.app().settings = Settings(analyzer="rekognition", dlq_url=dlq_url)
    assert aws_lambda.sqs_handler(event, LocalContext()) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_the_queue_adapter_sends_attributes_as_sqs_types_them(aws):
    from mediaindex.adapters.queue.sqs import SqsQueue

    _, sqs, dlq_url = aws
    SqsQueue(sqs, dlq_url).send("body", {"error_type": "ValueError", "receive_count": 3})
    [message] = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert message["Body"] == "body"
    assert message["MessageAttributes"] == {
        "error_type": {"DataType": "String", "StringValue": "ValueError"},
        "receive_count": {"DataType": "Number", "StringValue": "3"},
    }
