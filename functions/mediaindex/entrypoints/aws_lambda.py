"""Lambda handlers: thin shells over the use cases.

- `sqs_handler`: S3 notifications delivered through SQS, processed as a batch with partial-failure reporting, so one
  bad message never fails its batch. A message whose retries are spent is sent to the dead-letter queue by us, with
  its reason as message attributes (SQS's own redrive would move it without saying why); the queue's redrive policy
  stays as the backstop.
- `s3_handler`: S3 notifications delivered directly (asynchronous invocation). Every record is tried; if any failed
  the invocation raises, Lambda retries it, and its on-failure destination keeps the event with the error.

Files under the people prefix (default `people/<name>/...`) enrol or forget known people instead of being indexed.
With Rekognition the library is then re-matched in bounded steps: each step's handler sends the next one to the
queue as a message of its own (domain/messages.py RematchStep), which `sqs_handler` hands to `handle_rematch`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from mediaindex.adapters.s3_events import MalformedEvent, parse_message_body, parse_notification
from mediaindex.bootstrap import App, build_app
from mediaindex.config import Settings
from mediaindex.domain.messages import RematchStep, StorageEvent

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "mediaindex")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MediaIndex")

logger = Logger()
metrics = Metrics()
tracer = Tracer()
copy_config_to_registered_loggers(source_logger=logger, include={"mediaindex"})
# a batch whose every record fails is answered with every record as a failure, like any other: Powertools would
# raise BatchProcessingError for it (a traceback, and Lambda retrying the whole batch)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class PowertoolsMetrics:
    """The Metrics port on Powertools' EMF metrics (CloudWatch reads them from the log, no API call)."""

    def count(self, name: str, value: float = 1) -> None:
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def handle(event: StorageEvent) -> dict[str, Any]:
    """One storage event: a file under the people prefix enrols or forgets; any other is indexed or removed."""
    from mediaindex.services.rematch import RematchContinued
    from mediaindex.services.video import VideoContinued

    logger.append_keys(bucket=event.ref.bucket, key=event.ref.key, event_name=event.event_name)
    try:
        prefix = app().settings.people_prefix
        if prefix and event.ref.key.startswith(prefix) and _clock is not None:
            app().people.time_left = _clock  # an enrolment's first re-match step, too, stops in time
        try:
            outcome = app().handle_event(event).to_dict()
        except VideoContinued as more:
            outcome = _continue_video(event, more)
        except RematchContinued as more:
            outcome = {**_continue_rematch(more), "bucket": event.ref.bucket, "key": event.ref.key}
        logger.info("event handled", extra={"outcome": outcome})
        return outcome
    finally:
        logger.remove_keys(["bucket", "key", "event_name"])


def handle_rematch(step: RematchStep) -> dict[str, Any]:
    """One step of a re-match after a change of known people, sent by the step before it."""
    from mediaindex.services.rematch import RematchContinued

    people = app().people
    people.time_left = _clock
    try:
        report = people.continue_rematch(step)
        outcome = {"action": "rematched", "source": step.source, "step": step.step, **report.to_dict()}
    except RematchContinued as more:
        outcome = _continue_rematch(more)
    logger.info("re-match step handled", extra={"outcome": outcome})
    return outcome


_clock: Any = None  # seconds left in this invocation, when Lambda tells


def start_invocation(context: Any) -> None:
    """A long video stops in time to save its partial timeline, a re-match step in time to hand over: tell them
    how long this invocation has left."""
    global _clock
    if not hasattr(context, "get_remaining_time_in_millis"):
        return
    _clock = lambda: context.get_remaining_time_in_millis() / 1000.0  # noqa: E731
    video = app().pipeline.video
    if video is not None:
        video.time_left = _clock
    if app().has("people"):
        app().people.time_left = _clock


def _continue_rematch(more: Any) -> dict[str, Any]:
    """Send the next step of a re-match to the queue: the next invocation carries on where this one stopped."""
    settings = app().settings
    if not settings.queue_url:  # bootstrap steps only with a queue; never leave the rest undone silently
        raise RuntimeError("a re-match continues through the queue, and MEDIAINDEX_QUEUE_URL is not set") from more
    app().queue(settings.queue_url).send(more.step.to_body())
    metrics.add_metric(name="rematch_continuations", unit=MetricUnit.Count, value=1)
    outcome = {"action": "continued", "source": more.step.source, "reason": str(more), "next_step": more.step.step,
               "after": more.step.after, **more.report.to_dict()}
    if more.refusal:
        outcome["refused"] = more.refusal
    return outcome


def _continue_video(event: StorageEvent, more: Any) -> dict[str, Any]:
    """Queue the same event again: the next invocation resumes the video where the saved timeline ends."""
    settings = app().settings
    if not settings.queue_url:
        raise more  # no queue to continue through: SQS delivers the message again after its visibility timeout
    app().queue(settings.queue_url).send_again(event)
    metrics.add_metric(name="video_continuations", unit=MetricUnit.Count, value=1)
    return {"action": "continued", "bucket": event.ref.bucket, "key": event.ref.key, "reason": str(more),
            "next_start": more.next_start}


_app: App | None = None


def app() -> App:
    """What this container keeps between invocations: the settings and the use cases, built once."""
    global _app
    if _app is None:
        # a re-match after an enrolment goes in bounded steps through the queue (MEDIAINDEX_QUEUE_URL)
        _app = build_app(Settings.from_env().with_overrides(rematch_in_steps=True), metrics=PowertoolsMetrics())
    return _app


def configure(new_app: App | None) -> None:
    """Use this app (from `bootstrap.build_app`, with fakes in tests; `mediaindex invoke`); None: build from the
    environment on the next event."""
    global _app
    _app = new_app


# ---- SQS ---------------------------------------------------------------------------------------------------------
def _record_handler(record: SQSRecord) -> list[dict[str, Any]]:
    try:
        step = RematchStep.from_body(record.raw_event.get("body"))
        if step is not None:
            return [handle_rematch(step)]
        events, problems = parse_message_body(record.raw_event.get("body"))
        outcomes = [handle(event) for event in events]  # the good records of the message first
        if problems:
            raise MalformedEvent("; ".join(problems))
        return outcomes
    except Exception as error:  # noqa: BLE001 - every failure either retries or is dead-lettered with its reason
        if _dead_letter(record, error):
            return [{"action": "dead_lettered", "reason": _reason(error), "message_id": record.message_id}]
        if _is_malformed(error):  # its reason says it all: no stack to log
            logger.error("malformed message; no dead-letter queue, SQS will deliver it again",
                         extra={"message_id": record.message_id, "reason": _reason(error)})
        else:
            logger.exception("message failed; SQS will deliver it again", extra={"message_id": record.message_id})
        raise


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


def _dead_letter(record: SQSRecord, error: BaseException) -> bool:
    """On the last delivery, move the message to the DLQ ourselves so it carries why it failed."""
    settings = app().settings
    try:
        receives = int(record.attributes.approximate_receive_count or 1)
    except (TypeError, ValueError, KeyError, AttributeError):
        receives = 1
    permanent = _is_malformed(error)
    if not settings.dlq_url or (receives < settings.max_receives and not permanent):
        return False
    body = record.raw_event.get("body")
    if not isinstance(body, str) or not body:  # SQS refuses an empty body: keep the whole record instead
        body = json.dumps(record.raw_event, default=str)
    return _send_to_dlq(settings.dlq_url, body, error, receives, str(record.raw_event.get("messageId") or ""))


def _send_to_dlq(dlq_url: str, body: str, error: BaseException, receives: int, message_id: str) -> bool:
    try:
        app().queue(dlq_url).send(body, {
            "error_type": type(error).__name__,
            "error_message": _reason(error),
            "receive_count": receives,
            "source_message_id": message_id or "-",
        })
    except Exception:  # noqa: BLE001 - the DLQ itself is failing: leave the message to SQS's redrive policy
        logger.exception("could not dead-letter the message", extra={"message_id": message_id})
        return False
    logger.error("message dead-lettered", extra={"message_id": message_id, "reason": _reason(error)})
    metrics.add_metric(name="messages_dead_lettered", unit=MetricUnit.Count, value=1)
    return True


def _is_malformed(error: BaseException) -> bool:
    from mediaindex.adapters.s3_events import MalformedEvent

    return isinstance(error, MalformedEvent)  # retrying cannot fix a message we cannot read


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def sqs_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    start_invocation(context)
    return process_partial_response(event=event, record_handler=_record_handler, processor=processor, context=context)


# ---- direct S3 -> Lambda -------------------------------------------------------------------------------------------
class RecordsFailed(Exception):
    """Some records of a direct S3 event failed; Lambda retries the invocation (handled records are skipped as
    duplicates), then sends it to the on-failure destination with this message."""


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def s3_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcomes, failures = [], []
    start_invocation(context)
    try:
        storage_events, problems = parse_notification(event)
    except MalformedEvent as error:
        storage_events, problems = [], [str(error)]
    for storage_event in storage_events:
        try:
            outcomes.append(handle(storage_event))
        except Exception as error:  # noqa: BLE001 - one bad record must not stop the others
            logger.exception("record failed", extra={"bucket": storage_event.ref.bucket, "key": storage_event.ref.key})
            failures.append({"bucket": storage_event.ref.bucket, "key": storage_event.ref.key, "reason": _reason(error)})
    if problems:  # retrying cannot fix them: to the dead-letter queue at once, with the reason
        malformed = MalformedEvent("; ".join(problems))
        dlq = app().settings.dlq_url
        if not (dlq and _send_to_dlq(dlq, json.dumps(event, default=str), malformed, 1,
                                     getattr(context, "aws_request_id", ""))):
            raise malformed
        if failures:
            raise RecordsFailed(json.dumps(failures, ensure_ascii=False)[:4000])
        return {"outcomes": outcomes, "dead_lettered": _reason(malformed)}
    if failures:
        raise RecordsFailed(json.dumps(failures, ensure_ascii=False)[:4000])
    return {"outcomes": outcomes}
