"""SQS queues. `QueueSink`: the pipeline's queue as the IndexRequestSink port (a backfill): one S3-notification
message per file, so the deployed SQS handler does the work exactly as for a fresh upload, and one bad file never
fails another. `SqsQueue`: one message at a time, where the Lambda handler puts an event back (a long video goes on
in the next invocation) or dead-letters a message with its reason."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, Mapping, Sequence

from mediaindex.adapters.s3_events import notification_for
from mediaindex.domain.errors import ConfigurationError, TransientError
from mediaindex.domain.messages import OutcomeTally, StorageEvent

log = logging.getLogger(__name__)

SQS_BATCH = 10  # SendMessageBatch's maximum
_SEND_ATTEMPTS = 5


class SqsQueue:
    """One queue, one message per call."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs, self.queue_url = sqs, queue_url

    def send(self, body: str, attributes: Mapping[str, str | int] | None = None) -> None:
        """A message with its attributes: text as String, whole numbers as Number."""
        message: dict[str, Any] = {"QueueUrl": self.queue_url, "MessageBody": body}
        if attributes:
            message["MessageAttributes"] = {
                name: {"DataType": "Number" if isinstance(value, int) else "String", "StringValue": str(value)}
                for name, value in attributes.items()
            }
        self.sqs.send_message(**message)

    def send_again(self, event: StorageEvent) -> None:
        """The event as the S3 notification the pipeline's handler reads, to be handled again."""
        self.send(json.dumps(notification_for([event])))


class QueueSink:
    """One S3 notification per message, ten messages per SendMessageBatch. Entries SQS refuses are sent again with
    backoff; what still fails raises TransientError before the checkpoint moves past it."""

    mode = "queue"

    def __init__(self, sqs: Any, queue_url: str, region: str | None = None, sleep: Callable[[float], None] = time.sleep):
        self.sqs, self.queue_url, self.region, self._sleep = sqs, queue_url, region or "us-east-1", sleep
        self.calls = 0
        self._batch: list[StorageEvent] = []  # submitted, not sent yet
        self._last_seen: str | None = None  # the position of the last file submitted or skipped
        self._safe: str | None = None  # the checkpoint: every file up to it is accepted by SQS or needed nothing
        self._told: str | None = None  # the checkpoint as last returned

    # -- the IndexRequestSink port: batches of ten in listing order; after each accepted batch the checkpoint
    # moves to the last file handed over, and a skipped file moves it when nothing is pending before it --
    def submit(self, event: StorageEvent, position: str) -> int:
        self._batch.append(event)
        self._last_seen = position
        return self._send_pending() if len(self._batch) >= SQS_BATCH else 0

    def skip(self, position: str) -> None:
        self._last_seen = position
        if not self._batch:
            self._safe = position

    def flush(self) -> int:
        sent = self._send_pending() if self._batch else 0
        if self._last_seen is not None:
            self._safe = self._last_seen
        return sent

    def checkpoint(self) -> str | None:
        if self._safe == self._told:
            return None
        self._told = self._safe
        return self._safe

    def drain(self) -> None:
        pass  # the pipeline's SQS handler does the work

    def take_results(self) -> OutcomeTally:
        return OutcomeTally()

    def close(self) -> None:
        pass  # nothing runs here: the queue's consumers are elsewhere

    def _send_pending(self) -> int:
        batch, self._batch = self._batch, []
        self.send(batch)  # raises before the checkpoint moves past a batch SQS did not take
        self._safe = self._last_seen
        return len(batch)

    # -- SQS --

    def message_body(self, event: StorageEvent) -> str:
        return json.dumps(notification_for([event], self.region), ensure_ascii=False, separators=(",", ":"))

    def send(self, events: Sequence[StorageEvent]) -> int:
        for start in range(0, len(events), SQS_BATCH):
            self._send_batch(events[start:start + SQS_BATCH])
        return len(events)

    def _send_batch(self, events: Sequence[StorageEvent]) -> None:
        pending = {str(i): e for i, e in enumerate(events)}
        for attempt in range(_SEND_ATTEMPTS):
            if attempt:
                self._sleep(min(5.0, 0.2 * 2 ** attempt))
            entries = [
                {
                    "Id": entry_id, "MessageBody": self.message_body(event),
                    "MessageAttributes": {"origin": {"DataType": "String", "StringValue": "mediaindex-backfill"}},
                }
                for entry_id, event in pending.items()
            ]
            self.calls += 1
            try:
                response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception as e:  # noqa: BLE001 - botocore errors: throttled or down; try again, then give up
                code = getattr(e, "response", {}).get("Error", {}).get("Code", "") if hasattr(e, "response") else ""
                if "NonExistentQueue" in code or "AccessDenied" in code:
                    raise ConfigurationError(f"cannot send to {self.queue_url} ({code}): check the queue URL and "
                                             "sqs:SendMessage permission") from None
                log.warning("SendMessageBatch failed, retrying: %s", e)
                continue
            failed = response.get("Failed") or []
            permanent = [f for f in failed if f.get("SenderFault")]
            if permanent:
                raise ConfigurationError(f"SQS refused messages: {permanent[0].get('Code')}: {permanent[0].get('Message')}")
            pending = {f["Id"]: pending[f["Id"]] for f in failed}
            if not pending:
                return
        raise TransientError(f"SQS did not accept {len(pending)} message(s) after {_SEND_ATTEMPTS} attempts")
