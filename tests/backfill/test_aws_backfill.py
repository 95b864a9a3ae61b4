"""The deployed-stack backfill handler: lists and enqueues within its time budget, then re-invokes itself with the
checkpoint (or returns it), until the whole bucket is enqueued once."""

from __future__ import annotations


import pytest

from mediaindex.adapters.s3_events import events_from_message_body
from mediaindex.bootstrap import build_app
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.errors import ConfigurationError
from mediaindex.entrypoints import aws_backfill
from tests.backfill.archive import BACKFILL_ARN, FakeLambda, archive_files, receive_all, upload
from tests.backfill.conftest import BUCKET


class Context:
    """Lambda's context, with a clock that loses `step_ms` every time the handler asks how much time is left."""

    invoked_function_arn = BACKFILL_ARN

    def __init__(self, remaining_ms: int = 900_000, step_ms: int = 0):
        self.remaining_ms, self.step_ms = remaining_ms, step_ms

    def get_remaining_time_in_millis(self) -> int:
        self.remaining_ms -= self.step_ms
        return self.remaining_ms


@pytest.fixture
def wired(aws, sqlite_index, monkeypatch):
    s3, sqs, queue_url = aws
    lam = FakeLambda()
    monkeypatch.setenv("MEDIAINDEX_QUEUE_URL", queue_url)
    monkeypatch.setenv("MEDIAINDEX_BACKFILL_MARGIN_S", "60")
    aws_backfill.configure(build_app(Settings.from_env(), s3=s3, sqs=sqs, index=sqlite_index, **{"lambda": lam}))
    yield s3, sqs, queue_url, lam, sqlite_index
    aws_backfill.configure(None)


def test_the_handler_continues_itself_until_every_object_is_enqueued_once(wired):
    s3, sqs, queue_url, lam, index = wired
    files = archive_files(150)
    upload(s3, BUCKET, files)
    # ten files already indexed with their ETag are skipped
    for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"][:10]:
        index.put({**docs.base_document(BUCKET, o["Key"], None), "status": "indexed", "etag": o["ETag"].strip('"'),
                   "size": o["Size"]}, None)
    # each invocation has time for about three pages of 20 before its 60 s margin
    event = {"bucket": BUCKET, "page_size": 20, "rate": 1e6}
    results = [aws_backfill.handler(event, Context(remaining_ms=300_000, step_ms=60_000))]
    while lam.invocations:
        results.append(aws_backfill.handler(lam.invocations.pop(0), Context(remaining_ms=300_000, step_ms=60_000)))

    assert len(results) > 2 and all(r["reinvoked"] for r in results[:-1]) and "reinvoked" not in results[-1]
    assert [r["invocation"] for r in results] == list(range(1, len(results) + 1))
    for before, after in zip(results, results[1:]):
        assert after["checkpoint"] > before["continuation_token"] == before["checkpoint"]
    last = results[-1]
    assert last["done"] and last["continuation_token"] is None
    assert last["listed"] == len(files) and last["skipped_unchanged"] == 10 and last["sent"] == len(files) - 10
    keys = [events_from_message_body(m["Body"])[0].ref.key for m in receive_all(sqs, queue_url)]
    assert len(keys) == len(set(keys)) == len(files) - 10


def test_without_reinvoke_the_handler_returns_its_continuation(wired):
    s3, sqs, queue_url, lam, _ = wired
    files = archive_files(45)
    upload(s3, BUCKET, files)
    event = {"bucket": BUCKET, "prefix": "photos/", "queue_url": queue_url, "page_size": 10, "rate": 1e6,
             "reinvoke": False}
    first = aws_backfill.handler(event, Context(remaining_ms=200_000, step_ms=60_000))
    assert not first["done"] and first["continuation_token"] and lam.invocations == []
    second = aws_backfill.handler({**event, "continuation_token": first["continuation_token"]}, Context())
    assert second["done"]
    photos = sorted(k for k in files if k.startswith("photos/"))
    keys = sorted(events_from_message_body(m["Body"])[0].ref.key for m in receive_all(sqs, queue_url))
    assert keys == photos


def test_the_handler_says_what_is_missing(wired, monkeypatch):
    with pytest.raises(ConfigurationError, match="bucket"):
        aws_backfill.handler({}, Context())
    monkeypatch.delenv("MEDIAINDEX_QUEUE_URL")
    aws_backfill.configure(build_app(Settings.from_env()))  # a function deployed without the variable
    with pytest.raises(ConfigurationError, match="MEDIAINDEX_QUEUE_URL"):
        aws_backfill.handler({"bucket": BUCKET}, Context())


def test_the_handler_reads_an_inventory_and_resumes_by_its_position(wired):
    from tests.backfill.test_estimate_inventory import write_inventory

    s3, sqs, queue_url, lam, _ = wired
    files = archive_files(60)
    upload(s3, BUCKET, files)
    manifest = write_inventory(s3, files, per_file=25)
    event = {"bucket": BUCKET, "inventory": manifest, "page_size": 20, "rate": 1e6}
    results = [aws_backfill.handler(event, Context(remaining_ms=200_000, step_ms=60_000))]
    while lam.invocations:
        results.append(aws_backfill.handler(lam.invocations.pop(0), Context(remaining_ms=200_000, step_ms=60_000)))
    assert len(results) > 1 and results[0]["continuation_token"].startswith("inventory:")
    assert results[-1]["done"] and results[-1]["skipped_archived"] == 1
    keys = [events_from_message_body(m["Body"])[0].ref.key for m in receive_all(sqs, queue_url)]
    assert len(keys) == len(set(keys)) == len(files) - 1 and set(keys) == set(files) - {"photos/00/img_0003.jpg"}


def test_a_slow_rate_makes_pages_small_enough_to_finish_within_the_margin(wired, monkeypatch):
    s3, sqs, queue_url, lam, _ = wired
    upload(s3, BUCKET, {f"p/{i}.jpg": b"x" for i in range(8)})  # within the burst: nothing waits
    sizes = []
    real = aws_backfill.app().listing

    def spy(source, inventory=None, page_size=1000):
        sizes.append(page_size)
        return real(source, inventory, page_size)

    monkeypatch.setattr(aws_backfill.app(), "listing", spy)
    # 5 files/s with a 60 s margin: 150 files a page take 30 s to enqueue
    result = aws_backfill.handler({"bucket": BUCKET, "rate": 5}, Context())
    assert sizes == [150] and result["done"]
    aws_backfill.handler({"bucket": BUCKET}, Context())  # default rate from the features: 40/s
    assert sizes[-1] == 1000


def test_on_a_fresh_domain_the_reader_enqueues_everything_without_creating_the_index(osmem_clone):
    """The backfill function may only read OpenSearch: before the first file is indexed there is no index to
    look in, and it must not try to create one (its role would be refused)."""
    from opensearchpy import OpenSearch

    settings = Settings(index_url=osmem_clone.url, opensearch_auth="none")
    assert aws_backfill._index(build_app(settings)) is None
    assert not OpenSearch(hosts=[osmem_clone.url]).indices.exists_alias(name="media")
    from mediaindex.bootstrap import build_index

    build_index(settings).ensure_ready()  # once the indexer has written, the backfill looks documents up
    assert aws_backfill._index(build_app(settings)) is not None
