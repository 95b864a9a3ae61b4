"""A generated archive for the backfill tests: hundreds of small, distinct pictures, odd keys and a few bad files,
on moto's S3 or in a folder; and the glue that hands queued messages to the real SQS handler."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

from PIL import Image

# Keys S3 allows and notifications encode: spaces, +, %, non-ASCII, brackets, deep paths.
ODD_KEYS = [
    "odd/my photo.jpg",
    "odd/a+b=c.jpg",
    "odd/100% sure.png",
    "odd/%20literally.jpg",
    "odd/café crème/été 2019.jpg",
    "odd/日本語/写真 1.png",
    "odd/emoji 😀.jpg",
    "odd/[brackets] & (parens)#hash?.jpg",
]
BAD_FILES = {
    "bad/empty.jpg": b"",
    "bad/truncated.jpg": None,  # filled in: the first 200 bytes of a JPEG
    "bad/not-an-image.jpg": b"%PDF-1.4 this is not a picture",
    "bad/notes.txt": b"shopping list: milk, eggs",
}


def picture(i: int, fmt: str = "JPEG") -> bytes:
    """A small picture, different for every i (distinct bytes, so no analysis is reused between them)."""
    buf = io.BytesIO()
    w, h = (32 + i % 7, 24 + i % 5) if i % 2 else (24 + i % 5, 32 + i % 7)
    Image.new("RGB", (w, h), (i * 37 % 256, i * 91 % 256, i * 13 % 256)).save(buf, fmt)
    return buf.getvalue()


def archive_files(n_images: int = 300) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for i in range(n_images):
        png = i % 4 == 0
        files[f"photos/{i // 100:02d}/img_{i:04d}.{'png' if png else 'jpg'}"] = picture(i, "PNG" if png else "JPEG")
    for j, key in enumerate(ODD_KEYS):
        files[key] = picture(10_000 + j, "PNG" if key.endswith(".png") else "JPEG")
    for key, data in BAD_FILES.items():
        files[key] = data if data is not None else picture(20_000)[:200]
    return files


def upload(s3: Any, bucket: str, files: dict[str, bytes]) -> None:
    for key, data in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)


def write_folder(root: Path, files: dict[str, bytes]) -> None:
    for key, data in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message in the queue (deleted as read, as the Lambda event source mapping does after success)."""
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                    AttributeNames=["All"]).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """An SQS -> Lambda event for these received messages, as the event source mapping builds it."""
    return {"Records": [
        {
            "messageId": m.get("MessageId", str(uuid.uuid4())),
            "receiptHandle": m.get("ReceiptHandle", "handle"),
            "body": m["Body"],
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1763633000000",
                           "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1763633000100"},
            "messageAttributes": {},
            "md5OfBody": m.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:mediaindex-events",
            "awsRegion": "us-east-1",
        }
        for m in messages
    ]}


def bodies(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in messages]


BACKFILL_ARN = "arn:aws:lambda:us-east-1:123456789012:function:mediaindex-backfill"


class FakeLambda:
    """The Lambda client the backfill handler re-invokes itself through: each asynchronous invocation of the
    backfill function is kept (its payload), none is run."""

    def __init__(self) -> None:
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: str) -> dict[str, Any]:
        assert InvocationType == "Event" and FunctionName == BACKFILL_ARN
        self.invocations.append(json.loads(Payload))
        return {"StatusCode": 202}
