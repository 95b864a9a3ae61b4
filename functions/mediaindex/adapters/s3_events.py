"""S3 event notifications (direct, inside an SQS message, or inside an SNS envelope) -> StorageEvent.

Keys arrive URL-encoded the way S3 encodes them (`my+photo%C3%A9.jpg` is "my photoé.jpg"): every record's key is
decoded with unquote_plus. The `s3:TestEvent` S3 sends when notifications are configured carries no records.
"""

from __future__ import annotations

import json
from typing import Any, Iterable
from urllib.parse import unquote_plus

from mediaindex.ports import ObjectRef
from mediaindex.services.indexing import CREATED, REMOVED, StorageEvent

_REMOVAL_EVENTS = {
    "ObjectRemoved:Delete",
    "ObjectRemoved:DeleteMarkerCreated",
    "LifecycleExpiration:Delete",
    "LifecycleExpiration:DeleteMarkerCreated",
}


class MalformedEvent(ValueError):
    """The message is not an S3 notification we understand: it is dead-lettered with this reason."""


def kind_of(event_name: str) -> str | None:
    """CREATED, REMOVED or None (ignored: restores, replication, tagging, ACL changes...)."""
    name = event_name.removeprefix("s3:")
    if name.startswith("ObjectCreated:"):
        return CREATED
    if name in _REMOVAL_EVENTS:
        return REMOVED
    return None


def events_from_notification(notification: dict[str, Any]) -> list[StorageEvent]:
    """All storage events in one S3 notification document ({"Records": [...]})."""
    if notification.get("Event") == "s3:TestEvent":
        return []
    if "Records" not in notification:
        raise MalformedEvent("not an S3 event notification: no 'Records' and not an s3:TestEvent")
    events = []
    for record in notification["Records"]:
        event = event_from_record(record)
        if event is not None:
            events.append(event)
    return events


def event_from_record(record: dict[str, Any]) -> StorageEvent | None:
    try:
        name = record["eventName"]
        s3 = record["s3"]
        bucket = s3["bucket"]["name"]
        obj = s3["object"]
        key = unquote_plus(obj["key"])
    except (KeyError, TypeError) as e:
        raise MalformedEvent(f"S3 record lacks {e}: {json.dumps(record)[:300]}") from None
    kind = kind_of(name)
    if kind is None:
        return None
    size = obj.get("size")
    return StorageEvent(
        kind=kind,
        ref=ObjectRef(bucket, key),
        sequencer=obj.get("sequencer") or None,
        etag=(obj.get("eTag") or "").strip('"') or None,
        size=int(size) if size is not None else None,
        event_name=name,
        event_time=record.get("eventTime"),
    )


def events_from_message_body(body: str) -> list[StorageEvent]:
    """An SQS message body: an S3 notification, possibly wrapped in an SNS envelope."""
    try:
        document = json.loads(body)
    except (TypeError, ValueError):
        raise MalformedEvent(f"message body is not JSON: {str(body)[:200]!r}") from None
    if isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document:
        return events_from_message_body(document["Message"])  # S3 -> SNS -> SQS
    if not isinstance(document, dict):
        raise MalformedEvent("message body is JSON but not an object")
    return events_from_notification(document)


def notification_for(events: Iterable[StorageEvent], region: str = "us-east-1") -> dict[str, Any]:
    """The inverse: an S3 notification document for `events` (backfill feeds the queue with these, so the same
    handler does the work)."""
    from urllib.parse import quote_plus

    records = []
    for event in events:
        obj: dict[str, Any] = {"key": quote_plus(event.ref.key, safe="/")}
        if event.size is not None:
            obj["size"] = event.size
        if event.etag:
            obj["eTag"] = event.etag
        if event.sequencer:
            obj["sequencer"] = event.sequencer
        records.append({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": region,
            "eventTime": event.event_time or "1970-01-01T00:00:00.000Z",
            "eventName": event.event_name or ("ObjectCreated:Put" if event.kind == CREATED else "ObjectRemoved:Delete"),
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": event.ref.bucket, "arn": f"arn:aws:s3:::{event.ref.bucket}"}, "object": obj},
        })
    return {"Records": records}
