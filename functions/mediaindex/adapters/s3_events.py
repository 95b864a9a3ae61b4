"""S3 event notifications (direct, inside an SQS message, or inside an SNS envelope) -> StorageEvent.

Keys arrive URL-encoded the way S3 encodes them (`my+photo%C3%A9.jpg` is "my photoé.jpg"): every record's key is
decoded with unquote_plus. The `s3:TestEvent` S3 sends when notifications are configured carries no records.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable
from urllib.parse import unquote_plus

from mediaindex.domain.messages import StorageEvent
from mediaindex.domain.vocabulary import EventKind
from mediaindex.ports import ObjectRef

_REMOVAL_EVENTS = {
    "ObjectRemoved:Delete",
    "ObjectRemoved:DeleteMarkerCreated",
    "LifecycleExpiration:Delete",
    "LifecycleExpiration:DeleteMarkerCreated",
}


class MalformedEvent(ValueError):
    """The message is not an S3 notification we understand: it is dead-lettered with this reason."""


def kind_of(event_name: str) -> EventKind | None:
    """EventKind.CREATED, EventKind.REMOVED or None (ignored: replication, tagging, ACL changes, a restore begun...).
    A restore completed is a creation: the archived object can be read now (its failed document says why it was
    not before)."""
    name = event_name.removeprefix("s3:")
    if name.startswith("ObjectCreated:") or name == RESTORE_COMPLETED:
        return EventKind.CREATED
    if name in _REMOVAL_EVENTS:
        return EventKind.REMOVED
    return None


# S3's sequencer: an opaque, hexadecimal string (16-18 digits today). Anything else is refused: compared as text,
# one forged "ZZZZ" would be newer than every real sequencer and make every later event for that key stale, and
# so would a long run of "F"s (sequencers are compared right-padded with zeros): so at most 20 digits. A forged one
# of S3's length can still claim to be later than real events; a delete it would make stale is checked against
# S3 itself (services/indexing.py, remove_file).
MAX_SEQUENCER = 20
_SEQUENCER = re.compile(r"^[0-9A-Fa-f]{1,%d}$" % MAX_SEQUENCER)
RESTORE_COMPLETED = "ObjectRestore:Completed"
MAX_KEY_BYTES = 1024  # S3's own limit on a key


def events_from_notification(notification: Any) -> list[StorageEvent]:
    """All storage events in one S3 notification document ({"Records": [...]}). Anything not shaped like one
    raises MalformedEvent (dead-lettered at once: retrying cannot fix it)."""
    events, problems = parse_notification(notification)
    if problems:
        raise MalformedEvent("; ".join(problems))
    return events


def parse_notification(notification: Any) -> tuple[list[StorageEvent], list[str]]:
    """The events of the well-formed records and why each other record is malformed, so the handlers index the
    good records of a message and dead-letter it for the bad ones. A document that is not a notification at all
    raises MalformedEvent."""
    if not isinstance(notification, dict):
        raise MalformedEvent(f"an S3 notification is a JSON object, not {_kind(notification)}")
    if notification.get("Event") == "s3:TestEvent":
        return [], []
    if "Records" not in notification:
        raise MalformedEvent("not an S3 event notification: no 'Records' and not an s3:TestEvent")
    records = notification["Records"]
    if not isinstance(records, list):
        raise MalformedEvent(f"'Records' is a list of S3 records, not {_kind(records)}")
    events, problems = [], []
    for number, record in enumerate(records):
        try:
            event = event_from_record(record)
        except MalformedEvent as e:
            problems.append(f"record {number}: {e}" if len(records) > 1 else str(e))
            continue
        if event is not None:
            events.append(event)
    return events, problems


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}")


def _text(value: Any, what: str, record: Any, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise MalformedEvent(f"S3 record's {what} is {_kind(value)}, not a string: {_shown(record)}")
    return value


def _shown(record: Any) -> str:
    try:
        return json.dumps(record, ensure_ascii=False, default=str)[:300]
    except (TypeError, ValueError):
        return repr(record)[:300]


def event_from_record(record: Any) -> StorageEvent | None:
    if not isinstance(record, dict):
        raise MalformedEvent(f"an S3 record is a JSON object, not {_kind(record)}: {_shown(record)}")
    try:
        name = record["eventName"]
        s3 = record["s3"]
        bucket = s3["bucket"]["name"]
        obj = s3["object"]
        raw_key = obj["key"]
    except (KeyError, TypeError) as e:
        raise MalformedEvent(f"S3 record lacks {e}: {_shown(record)}") from None
    if not isinstance(obj, dict):
        raise MalformedEvent(f"S3 record's s3.object is {_kind(obj)}, not an object: {_shown(record)}")
    name = _text(name, "eventName", record)
    kind = kind_of(name)  # type: ignore[arg-type]
    if kind is None:
        return None
    bucket = _text(bucket, "bucket name", record)
    if not bucket:
        raise MalformedEvent(f"S3 record names no bucket: {_shown(record)}")
    key = unquote_plus(_text(raw_key, "object key", record))  # type: ignore[arg-type]
    if not key or len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise MalformedEvent(f"S3 record's key is empty or longer than {MAX_KEY_BYTES} bytes: {_shown(record)}")
    sequencer = _text(obj.get("sequencer"), "sequencer", record, optional=True) or None
    if sequencer is not None and not _SEQUENCER.match(sequencer):
        raise MalformedEvent(f"S3 record's sequencer {sequencer[:40]!r} is not S3's hexadecimal (at most "
                             f"{MAX_SEQUENCER} digits): refused, as it would decide the order of every later event "
                             "for this key")
    size = obj.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        if isinstance(size, str) and size.isdigit():
            size = int(size)
        else:
            raise MalformedEvent(f"S3 record's size {size!r} is not a number of bytes: {_shown(record)}")
    etag = _text(obj.get("eTag"), "eTag", record, optional=True)
    return StorageEvent(
        kind=kind,
        ref=ObjectRef(bucket, key),
        sequencer=sequencer,
        etag=(etag or "").strip('"') or None,
        size=size,
        event_name=name,  # type: ignore[arg-type]
        event_time=_text(record.get("eventTime"), "eventTime", record, optional=True),
    )


def events_from_message_body(body: Any) -> list[StorageEvent]:
    """An SQS message body: an S3 notification, possibly wrapped in an SNS envelope."""
    events, problems = parse_message_body(body)
    if problems:
        raise MalformedEvent("; ".join(problems))
    return events


def parse_message_body(body: Any) -> tuple[list[StorageEvent], list[str]]:
    """As parse_notification, for an SQS message body (an S3 notification, possibly in an SNS envelope)."""
    if not isinstance(body, str) or not body:
        raise MalformedEvent(f"the message has no body to read (it is {_kind(body)})")
    try:
        document = json.loads(body)
    except (TypeError, ValueError, RecursionError):
        raise MalformedEvent(f"message body is not JSON: {str(body)[:200]!r}") from None
    if isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document:
        return parse_message_body(document["Message"])  # S3 -> SNS -> SQS
    if not isinstance(document, dict):
        raise MalformedEvent("message body is JSON but not an object")
    return parse_notification(document)


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
            "eventName": event.event_name or ("ObjectCreated:Put" if event.kind == EventKind.CREATED else "ObjectRemoved:Delete"),
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": event.ref.bucket, "arn": f"arn:aws:s3:::{event.ref.bucket}"}, "object": obj},
        })
    return {"Records": records}
