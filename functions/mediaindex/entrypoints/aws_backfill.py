"""Lambda handler: backfill a bucket from the deployed stack, without a machine that stays up for hours.

Event: {"bucket": "...", "prefix": "photos/", "queue_url": "...", "continuation_token": "<last key handed over>",
"rate": 40, "force": false, "reinvoke": true, "page_size": 1000, "inventory": "s3://.../manifest.json"}.
The page size defaults to what the rate enqueues in half the margin (at most 1,000), so a page always finishes.
Only "bucket" is required; `queue_url` defaults to
MEDIAINDEX_QUEUE_URL. Each invocation lists and enqueues until its time is nearly up (it keeps
MEDIAINDEX_BACKFILL_MARGIN_S seconds, default 60, in hand), then either invokes itself asynchronously with the
checkpoint as `continuation_token` (reinvoke, the default) or returns it for the caller to pass back. Totals so far
ride along in the event, so the last invocation's result and log line have the whole run's figures.

One run per bucket at a time: with MEDIAINDEX_BACKFILL_LEASE_TABLE set (the stack sets it), each invocation takes
the bucket's lease for its run (`run_id`, carried from link to link) and refuses to start while another run holds
it (BackfillAlreadyRunning: its event lands in the failure queue, to invoke again later).

    aws lambda invoke --function-name <BackfillFunction> --invocation-type Event \
        --cli-binary-format raw-in-base64-out --payload '{"bucket": "my-media", "prefix": "2019/"}' /dev/stdout
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from mediaindex.adapters.checkpoint.dynamodb_lease import DynamoRunLease
from mediaindex.adapters.queue.sqs import SQS_BATCH
from mediaindex.bootstrap import App, build_app
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError
from mediaindex.services.backfill import Backfill
from mediaindex.services.estimate import default_rate
from mediaindex.services.throttle import TokenBucket

DEFAULT_MARGIN_S = 60.0
# A run's lease outlasts the invocation by this much, time for the next link of the chain to start; a link that
# starts later than that finds the bucket free, or taken by another run (then it refuses, with its checkpoint).
LEASE_SLACK_S = 600.0
# the lease's clock (a test moves it instead of waiting)
clock = time.time
# A runaway chain of self-invocations costs money: stop after this many and say so.
MAX_INVOCATIONS = 10_000


_app: App | None = None


class BackfillAlreadyRunning(ConfigurationError):
    """Another backfill run holds the bucket: this invocation did nothing."""


def app() -> App:
    """The container's wiring, built once from the function's environment."""
    global _app
    if _app is None:
        _app = build_app(Settings.from_env())  # an index that is not there yet is found out by _index
    return _app


def configure(new_app: App | None) -> None:
    """Use this app (bootstrap.build_app, with moto clients and a fake index in tests); None: from the environment."""
    global _app
    _app = new_app


def _index(app: App) -> Any:
    if not (app.has("index") or app.settings.index_url):
        return None  # no index to look in: enqueue everything, the SQS handler skips unchanged files itself
    index = app.index
    if not index.exists():
        # A fresh domain: nothing is indexed yet, so every object is enqueued. The backfill function only reads
        # the index (least privilege); the indexer creates it on its first write.
        return None
    index.ensure_ready()
    return index


def _lease(app: App) -> DynamoRunLease | None:
    table = os.environ.get("MEDIAINDEX_BACKFILL_LEASE_TABLE")
    return DynamoRunLease(table, app.client("dynamodb")) if table else None


def _hold(lease: DynamoRunLease | None, bucket: str, run_id: str, context: Any) -> None:
    if lease is None:
        return
    seconds = context.get_remaining_time_in_millis() / 1000 + LEASE_SLACK_S
    holder = lease.acquire(bucket, run_id, clock(), seconds)
    if holder is not None:
        until = datetime.fromtimestamp(holder.expires_at, timezone.utc).isoformat(timespec="seconds")
        raise BackfillAlreadyRunning(
            f"backfill run {holder.run_id} is running over s3://{bucket} (its lease lasts until {until} unless it "
            f"renews it): run {run_id} did nothing. Invoke this event again once that run is done.")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    wiring = app()
    settings = wiring.settings
    bucket = event.get("bucket")
    if not bucket:
        raise ConfigurationError('the event needs "bucket" (and optionally "prefix", "queue_url")')
    queue_url = event.get("queue_url") or settings.queue_url
    if not queue_url:
        raise ConfigurationError('no queue: pass "queue_url" or set MEDIAINDEX_QUEUE_URL on the function')
    invocation = int(event.get("invocation", 1))
    if invocation > MAX_INVOCATIONS:
        raise ConfigurationError(f"backfill stopped after {MAX_INVOCATIONS} invocations; resume with the "
                                 f"continuation_token {event.get('continuation_token')!r}")
    # the first link names the run; every later link carries its name, and so may renew its lease
    run_id = str(event.get("run_id") or getattr(context, "aws_request_id", "") or uuid.uuid4())
    lease = _lease(wiring)
    _hold(lease, bucket, run_id, context)
    rate = float(event.get("rate") or default_rate(settings.every_picture_features))
    margin = float(os.environ.get("MEDIAINDEX_BACKFILL_MARGIN_S", DEFAULT_MARGIN_S))

    def time_is_up() -> bool:
        return context.get_remaining_time_in_millis() < margin * 1000

    # a page must be enqueued within the margin at this rate, or Lambda's timeout would cut it in half
    page_size = int(event.get("page_size") or max(SQS_BATCH, min(1000, int(rate * margin / 2))))
    source = wiring.listing(f"s3://{bucket}/{event.get('prefix') or ''}", event.get("inventory"), page_size)
    backfill = Backfill(
        source=source,
        index=_index(wiring),
        sink=wiring.queue_sink(queue_url),
        limiter=TokenBucket(rate),
        force=bool(event.get("force")),
    )
    summary = backfill.run(start_after=event.get("continuation_token"), deadline=time_is_up,
                           carried=event.get("totals"))
    result = summary.to_dict()
    result.update(invocation=invocation, run_id=run_id,
                  continuation_token=None if summary.done else summary.checkpoint)
    if not summary.done and event.get("reinvoke", True):
        totals = {k: result[k] for k in ("listed", "bytes_listed", "skipped_unchanged", "skipped_archived", "sent")}
        next_event = {**event, "continuation_token": summary.checkpoint, "invocation": invocation + 1, "totals": totals,
                      "run_id": run_id}
        wiring.client("lambda").invoke(FunctionName=context.invoked_function_arn, InvocationType="Event",
                                   Payload=json.dumps(next_event).encode())
        result["reinvoked"] = True
    elif summary.done and lease is not None:
        lease.release(bucket, run_id)
    print(json.dumps({"backfill": result}, default=str))  # one log line per invocation, for CloudWatch
    return result
