"""Backfill through the queue on moto: hundreds of files become one S3 notification each, the real SQS handler
indexes them, unchanged files are skipped by ETag, and an interrupted run resumes without duplicates or gaps."""

from __future__ import annotations

import boto3
import pytest

from mediaindex.bootstrap import build_app
from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.adapters.s3_events import events_from_message_body
from mediaindex.adapters.storage.s3 import S3Storage
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.errors import TransientError
from mediaindex.domain.messages import CREATED
from mediaindex.entrypoints import aws_lambda
from mediaindex.entrypoints.cli.invoke import LocalContext
from mediaindex.adapters.checkpoint.file import StateFile
from mediaindex.adapters.listing.s3 import S3Source
from mediaindex.adapters.queue.sqs import QueueSink
from mediaindex.services.backfill import Backfill
from mediaindex.services.indexing import Pipeline
from tests.backfill.archive import ODD_KEYS, archive_files, picture, receive_all, sqs_event, upload
from tests.backfill.conftest import BUCKET
from tests.fakes import FakeAnalyzer


def backfill(s3, sqs, queue_url, index, state=None, **options) -> Backfill:
    return Backfill(S3Source(s3, BUCKET), index, QueueSink(sqs, queue_url), save=state.save if state else None,
                    **options)


def run_handler(sqs, queue_url, pipeline) -> list[dict]:
    """Deliver every queued message to the real SQS handler, ten at a time, as Lambda would."""
    aws_lambda.configure(build_app(Settings(analyzer="rekognition"), pipeline=pipeline, sqs=sqs))
    messages = receive_all(sqs, queue_url)
    deliver(messages)
    return messages


def deliver(messages: list[dict]) -> None:
    for start in range(0, len(messages), 10):
        result = aws_lambda.sqs_handler(sqs_event(messages[start:start + 10]), LocalContext())
        assert result == {"batchItemFailures": []}


def test_every_message_is_one_s3_notification_that_parses_back_to_its_key(aws):
    s3, sqs, queue_url = aws
    files = {key: picture(i) for i, key in enumerate(ODD_KEYS)}
    upload(s3, BUCKET, files)
    summary = backfill(s3, sqs, queue_url, index=None).run()
    assert summary.done and summary.sent == len(files)

    messages = receive_all(sqs, queue_url)
    assert len(messages) == len(files)
    listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    seen = {}
    for message in messages:
        assert message["MessageAttributes"]["origin"]["StringValue"] == "mediaindex-backfill"
        [event] = events_from_message_body(message["Body"])  # one record per message
        assert event.kind == CREATED and event.ref.bucket == BUCKET and event.sequencer is None
        seen[event.ref.key] = event
    assert set(seen) == set(files)  # spaces, +, %, non-ASCII all survive the S3 encoding
    for key, event in seen.items():
        assert event.etag == listed[key]["ETag"].strip('"') and event.size == len(files[key])


def test_the_sqs_handler_indexes_a_backfilled_archive_and_a_rerun_sends_nothing(aws, index):
    s3, sqs, queue_url = aws
    # 300 pictures on SQLite; fewer on OpenSearch, where every write is an HTTP round trip to osmem
    files = archive_files(300 if isinstance(index, SqliteIndex) else 120)
    upload(s3, BUCKET, files)
    analyzer = FakeAnalyzer()
    pipeline = Pipeline(storage=S3Storage(s3), analyzer=analyzer, index=index)

    aws_lambda.configure(build_app(Settings(analyzer="rekognition"), pipeline=pipeline, sqs=sqs))
    sink = QueueSink(sqs, queue_url)
    delivered: list[dict] = []

    def consume(listed: int, sent: int) -> None:
        # Lambda consumes while backfill lists (and moto's SQS slows down with every message left queued)
        messages = receive_all(sqs, queue_url)
        delivered.extend(messages)
        deliver(messages)

    summary = Backfill(S3Source(s3, BUCKET, page_size=50), index, sink, progress=consume).run()
    assert summary.done and summary.listed == summary.sent == len(delivered) == len(files)
    assert sink.calls == sum(-(-min(50, len(files) - p) // 10) for p in range(0, len(files), 50))  # ten a call
    index.refresh()
    documents = {d["key"]: d for d in index.iter_documents()}
    assert set(documents) == set(files)
    failed = {k for k, d in documents.items() if d["status"] == docs.FAILED}
    assert failed == {"bad/empty.jpg", "bad/truncated.jpg", "bad/not-an-image.jpg", "bad/notes.txt"}
    assert analyzer.calls == len(files) - len(failed)

    # Nothing changed: every file is skipped by its ETag, nothing is enqueued.
    again = Backfill(S3Source(s3, BUCKET), index, QueueSink(sqs, queue_url)).run()
    assert again.done and again.sent == 0 and again.skipped_unchanged == len(files)
    assert receive_all(sqs, queue_url) == []

    # Five files overwritten: exactly those five are sent, and indexed again.
    changed = sorted(files)[10:15]
    for i, key in enumerate(changed):
        s3.put_object(Bucket=BUCKET, Key=key, Body=picture(50_000 + i))
    third = Backfill(S3Source(s3, BUCKET), index, QueueSink(sqs, queue_url)).run()
    assert third.sent == 5 and third.skipped_unchanged == len(files) - 5
    messages = run_handler(sqs, queue_url, pipeline)
    assert sorted(events_from_message_body(m["Body"])[0].ref.key for m in messages) == changed
    assert analyzer.calls == len(files) - len(failed) + 5


class CrashingSQS:
    """The real (moto) client, until the n-th SendMessageBatch call: then the process 'dies'."""

    def __init__(self, client, crash_on_call: int):
        self.client, self.crash_on_call, self.calls = client, crash_on_call, 0

    def send_message_batch(self, **kwargs):
        self.calls += 1
        if self.calls == self.crash_on_call:
            raise KeyboardInterrupt("simulated crash")
        return self.client.send_message_batch(**kwargs)


def test_an_interrupted_backfill_resumes_after_its_checkpoint_without_duplicates_or_gaps(aws, sqlite_index, tmp_path):
    s3, sqs, queue_url = aws
    files = archive_files(300)
    upload(s3, BUCKET, files)
    state = StateFile(tmp_path / "state.json", f"s3://{BUCKET}/")
    # a small page size so the crash lands mid-listing, several pages in
    queued: list[dict] = []

    def drain(listed: int, sent: int) -> None:  # keep moto's queue short
        queued.extend(receive_all(sqs, queue_url))

    crashing = Backfill(S3Source(s3, BUCKET, page_size=37), sqlite_index,
                        QueueSink(CrashingSQS(sqs, crash_on_call=14), queue_url), save=state.save, progress=drain)
    with pytest.raises(KeyboardInterrupt):
        crashing.run()
    saved = state.load()
    before_crash = queued + receive_all(sqs, queue_url)
    assert saved["done"] is False and saved["checkpoint"] and saved["totals"]["sent"] == len(before_crash) == 121

    queued.clear()
    resumed = Backfill(S3Source(s3, BUCKET, page_size=37), sqlite_index, QueueSink(sqs, queue_url),
                       save=state.save, progress=drain).run(start_after=saved["checkpoint"], carried=saved["totals"])
    assert resumed.done and resumed.sent == len(files)
    after = queued + receive_all(sqs, queue_url)
    keys = [events_from_message_body(m["Body"])[0].ref.key for m in before_crash + after]
    assert len(keys) == len(set(keys)) == len(files)  # no duplicates
    assert set(keys) == set(files)  # nothing missed
    assert state.load()["done"] is True


class FlakySQS:
    """SQS that refuses some entries of a batch (as when throttled) on the first try."""

    def __init__(self, client):
        self.client, self.calls = client, 0

    def send_message_batch(self, QueueUrl, Entries):
        self.calls += 1
        if self.calls == 1:
            accepted = self.client.send_message_batch(QueueUrl=QueueUrl, Entries=Entries[:6])
            return {"Successful": accepted["Successful"], "Failed": [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
                for e in Entries[6:]]}
        return self.client.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)


def test_entries_sqs_refuses_are_sent_again_and_only_they(aws):
    s3, sqs, queue_url = aws
    files = {f"p/{i:02d}.jpg": picture(i) for i in range(10)}
    upload(s3, BUCKET, files)
    flaky = FlakySQS(sqs)
    summary = Backfill(S3Source(s3, BUCKET), None, QueueSink(flaky, queue_url, sleep=lambda s: None)).run()
    assert summary.sent == 10 and flaky.calls == 2
    keys = sorted(events_from_message_body(m["Body"])[0].ref.key for m in receive_all(sqs, queue_url))
    assert keys == sorted(files)


def test_sqs_that_keeps_refusing_stops_the_run_before_the_checkpoint_passes_the_batch(aws, tmp_path):
    s3, sqs, queue_url = aws
    upload(s3, BUCKET, {f"p/{i:02d}.jpg": picture(i) for i in range(25)})

    class Down:
        def send_message_batch(self, **kwargs):
            raise boto3.session.Session().client("sqs", region_name="us-east-1").exceptions.ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessageBatch")

    state = StateFile(tmp_path / "s.json", "x")
    with pytest.raises(TransientError):
        Backfill(S3Source(s3, BUCKET), None, QueueSink(Down(), queue_url, sleep=lambda s: None), save=state.save).run()
    assert state.load() is None  # nothing was handed over, so no checkpoint moved
