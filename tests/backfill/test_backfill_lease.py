"""One backfill run per bucket at a time, without reserved concurrency: the handler takes the bucket's lease in
DynamoDB (moto) for its run, every link of the chain renews it, another run is refused while it is held, and the
lease goes when the run is done or has expired."""

from __future__ import annotations


import boto3
import pytest

from mediaindex.adapters.checkpoint.dynamodb_lease import DynamoRunLease
from mediaindex.adapters.s3_events import events_from_message_body
from mediaindex.bootstrap import build_app
from mediaindex.config import Settings
from mediaindex.entrypoints import aws_backfill
from tests.backfill.archive import BACKFILL_ARN, FakeLambda, archive_files, receive_all, upload
from tests.backfill.conftest import BUCKET

TABLE = "backfill-lease"
NOW = 1_800_000_000.0


class Context:
    """Lambda's context for one invocation: its request id (the run's name on a first link), a clock that loses
    `step_ms` each time the handler asks."""

    invoked_function_arn = BACKFILL_ARN

    def __init__(self, request_id: str, remaining_ms: int = 900_000, step_ms: int = 0):
        self.aws_request_id, self.remaining_ms, self.step_ms = request_id, remaining_ms, step_ms

    def get_remaining_time_in_millis(self) -> int:
        self.remaining_ms -= self.step_ms
        return self.remaining_ms


@pytest.fixture
def wired(aws, monkeypatch):
    s3, sqs, queue_url = aws
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    # the stack's table (infra/parts/backfill.py; tests/infra/test_parts.py checks the two agree)
    dynamodb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    lam = FakeLambda()
    monkeypatch.setenv("MEDIAINDEX_QUEUE_URL", queue_url)
    monkeypatch.setenv("MEDIAINDEX_BACKFILL_LEASE_TABLE", TABLE)
    clock = {"now": NOW}
    monkeypatch.setattr(aws_backfill, "clock", lambda: clock["now"])
    aws_backfill.configure(build_app(Settings.from_env(), s3=s3, sqs=sqs, dynamodb=dynamodb, **{"lambda": lam}))
    yield s3, sqs, queue_url, lam, dynamodb, clock
    aws_backfill.configure(None)


def _lease_item(dynamodb):
    return dynamodb.get_item(TableName=TABLE, Key=DynamoRunLease.key(BUCKET), ConsistentRead=True).get("Item")


def _sent_keys(sqs, queue_url):
    return [events_from_message_body(m["Body"])[0].ref.key for m in receive_all(sqs, queue_url)]


def test_a_second_run_is_refused_while_the_first_runs_and_starts_once_it_is_done(wired):
    s3, sqs, queue_url, lam, dynamodb, _ = wired
    files = archive_files(60)
    upload(s3, BUCKET, files)
    event = {"bucket": BUCKET, "page_size": 20, "rate": 1e6}

    first = aws_backfill.handler(event, Context("run-a", remaining_ms=200_000, step_ms=60_000))
    assert first["reinvoked"] and first["run_id"] == "run-a"
    [next_link] = lam.invocations
    assert next_link["run_id"] == "run-a"  # the chain carries its run's name
    item = _lease_item(dynamodb)
    # held for the invocation's remaining time (200 s, less one step) plus the slack for the next link to start
    assert item["run_id"]["S"] == "run-a" and int(item["expires_at"]["N"]) == int(NOW + 140 + aws_backfill.LEASE_SLACK_S)

    assert _sent_keys(sqs, queue_url)  # run A's first pages (received, so the queue is empty again)
    with pytest.raises(aws_backfill.BackfillAlreadyRunning, match="run-a is running over s3://archive-bucket"):
        aws_backfill.handler(event, Context("run-b"))
    assert _sent_keys(sqs, queue_url) == []  # the refused run sent nothing

    lam.invocations.clear()
    last = aws_backfill.handler(next_link, Context("link-2"))  # a later link of run A: its lease, renewed
    assert last["done"] and last["run_id"] == "run-a"
    assert _lease_item(dynamodb) is None  # done: the bucket is free
    assert aws_backfill.handler(event, Context("run-b"))["done"]  # now run B may start


def test_an_expired_lease_is_taken_and_the_stale_run_stops_with_its_checkpoint(wired):
    s3, sqs, queue_url, lam, dynamodb, clock = wired
    upload(s3, BUCKET, archive_files(60))
    event = {"bucket": BUCKET, "page_size": 20, "rate": 1e6}
    aws_backfill.handler(event, Context("run-a", remaining_ms=200_000, step_ms=60_000))
    [stale_link] = lam.invocations  # its start is delayed past the lease (a throttled asynchronous queue)
    clock["now"] = NOW + 140 + aws_backfill.LEASE_SLACK_S + 1
    assert aws_backfill.handler(event, Context("run-b"))["done"]  # the lease had expired: run B took the bucket
    # run B is done and let go; a run C holds the bucket when run A's late link finally starts
    aws_backfill.handler({**event, "reinvoke": False, "page_size": 20}, Context("run-c", remaining_ms=100_000,
                                                                                 step_ms=60_000))
    with pytest.raises(aws_backfill.BackfillAlreadyRunning, match="run-c"):
        aws_backfill.handler(stale_link, Context("link-2"))


def test_without_a_lease_table_the_handler_runs_as_before(wired, monkeypatch):
    s3, sqs, queue_url, lam, dynamodb, _ = wired
    monkeypatch.delenv("MEDIAINDEX_BACKFILL_LEASE_TABLE")
    upload(s3, BUCKET, archive_files(5))
    assert aws_backfill.handler({"bucket": BUCKET}, Context("run-a"))["done"]
    assert aws_backfill.handler({"bucket": BUCKET}, Context("run-b"))["done"]  # nothing to hold: no refusal
    assert _lease_item(dynamodb) is None
