"""Enrolment at library size on AWS: after a photo under people/ is enrolled (Rekognition, the fake service behind a
real boto3 client; S3 and SQS from moto), the library of 5,000 indexed faces is re-matched in bounded steps, each
step sending the next to the queue, until every face has been searched once. Each step stays within its budget of
paid calls, and within its invocation's clock (counted in calls, never in wall time). A removal re-matches only the
documents naming the person, in steps too; the same photo sent again (a backfill run) costs nothing."""

from __future__ import annotations

import io
import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from mediaindex.adapters.analysis.rekognition import make_client
from mediaindex.adapters.faces.rekognition import parse_external_image_id, version_of
from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.adapters.s3_events import notification_for
from mediaindex.bootstrap import build_app
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.messages import CREATED, REMOVED, RematchStep, StorageEvent
from mediaindex.entrypoints import aws_lambda
from mediaindex.entrypoints.cli.invoke import LocalContext
from mediaindex.ports import ObjectRef
from mediaindex.services.people_rules import enrolment_version
from tests.rekognition.fake_service import FakeRekognition

BUCKET = "media"
COLLECTION = "mediaindex-faces"
PERSON = "Ada Lovelace"
ENROL_KEY = f"people/{PERSON}/1.jpg"
DOCUMENTS = 1250
FACES_PER_DOCUMENT = 4  # 5,000 indexed faces
STEP_CALLS = 200
SIDE = 320
# each face: an 80 x 80 square at the centre of its quarter of the picture; red where the face is Ada's
BOXES = [{"left": (0.125 + 0.5 * (j % 2)), "top": (0.125 + 0.5 * (j // 2)), "width": 0.25, "height": 0.25}
         for j in range(FACES_PER_DOCUMENT)]
RED, GREY = (220, 20, 20), (128, 128, 128)


def is_ada(doc_number: int, face: int) -> bool:
    return (doc_number * FACES_PER_DOCUMENT + face) % 7 == 0


def picture(pattern: tuple[bool, ...]) -> bytes:
    image = Image.new("RGB", (SIDE, SIDE), (30, 90, 40))
    for box, ada in zip(BOXES, pattern):
        x, y = int(box["left"] * SIDE), int(box["top"] * SIDE)
        image.paste(RED if ada else GREY, (x, y, x + int(box["width"] * SIDE), y + int(box["height"] * SIDE)))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


class FaceService(FakeRekognition):
    """The fake collection, with SearchFacesByImage answered from the crop it is sent: a red face at the crop's
    centre is Ada's enrolled face (the newest one enrolled as Ada), any other face matches nobody."""

    def _SearchFacesByImage(self, params: dict[str, Any]) -> Any:
        faces = self._faces_of(params["CollectionId"])
        crop = Image.open(io.BytesIO(params["Image"]["Bytes"])).convert("RGB")
        r, g, b = crop.getpixel((crop.width // 2, crop.height // 2))
        found = [f for f in faces.values() if (parse_external_image_id(f["ExternalImageId"]) or ("",))[0] == PERSON]
        matches = [{"Similarity": 99.2, "Face": dict(found[-1])}] if found and r > 180 and g < 80 else []
        return {"SearchedFaceBoundingBox": {"Width": 0.4, "Height": 0.4, "Left": 0.3, "Top": 0.3},
                "SearchedFaceConfidence": 99.9, "FaceMatches": matches, "FaceModelVersion": "7.0"}


class CountedContext(LocalContext):
    """Lambda's context whose clock runs on the calls made: every paid Rekognition call takes `seconds_a_call`
    of the invocation's `timeout` (deterministic: the step's time guard is tested without waiting)."""

    def __init__(self, service: FaceService, timeout: float = 300.0, seconds_a_call: float = 1.0) -> None:
        super().__init__()
        self.service, self.timeout, self.seconds_a_call = service, timeout, seconds_a_call
        self.start = len(service.requests)

    def calls(self, operation: str = "SearchFacesByImage") -> int:
        return sum(1 for op, _ in self.service.requests[self.start:] if op == operation)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout - self.seconds_a_call * self.calls()) * 1000)


@dataclass
class AwsParts:
    s3: Any
    sqs: Any
    queue_url: str
    dlq_url: str
    index: SqliteIndex
    rekognition: Any

    def settings(self, home: Path, **more: Any) -> Settings:
        """The settings of a Rekognition deployment that re-matches in steps through the ingest queue."""
        return Settings(home=home, analyzer="rekognition", collection_id=COLLECTION, queue_url=self.queue_url,
                        dlq_url=self.dlq_url, rematch_step_calls=STEP_CALLS, rematch_in_steps=True,
                        features=("faces", "people"), **more)


@contextmanager
def aws_parts(tmp_path: Path) -> Iterator[AwsParts]:
    """moto's S3 (the bucket) and SQS (the ingest queue and its dead-letter queue), a SQLite index, and a Rekognition
    client at an endpoint moto does not serve (its Rekognition has no collections), for a fake service to answer."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        index = SqliteIndex(str(tmp_path / "index.db"), "media")
        index.ensure_ready()
        rekognition = boto3.client("rekognition", region_name="us-east-1", endpoint_url="https://rekognition.fake.test",
                                   config=make_client(Settings(aws_region="us-east-1")).meta.config)
        yield AwsParts(s3, sqs, sqs.create_queue(QueueName="ingest")["QueueUrl"],
                       sqs.create_queue(QueueName="ingest-dlq")["QueueUrl"], index, rekognition)


@pytest.fixture
def library(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with aws_parts(tmp_path) as parts:
        s3, sqs, queue_url, dlq_url, index = parts.s3, parts.sqs, parts.queue_url, parts.dlq_url, parts.index
        patterns: dict[tuple[bool, ...], bytes] = {}
        batch = []
        for n in range(DOCUMENTS):
            key = f"photos/{n:05d}.jpg"
            pattern = tuple(is_ada(n, j) for j in range(FACES_PER_DOCUMENT))
            body = patterns.setdefault(pattern, picture(pattern))
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            batch.append({**docs.base_document(BUCKET, key, None), "status": docs.INDEXED, "error": None,
                          "media_type": "image", "content_sha256": f"sha-{n}", "people": [],
                          "face_count": FACES_PER_DOCUMENT,
                          "faces": [{"box": dict(box), "confidence": 99.9, "person": None, "face_id": None,
                                     "similarity": None} for box in BOXES]})
        index.put_many(batch)
        s3.put_object(Bucket=BUCKET, Key=ENROL_KEY, Body=picture((True, False, False, False)))
        service = FaceService(parts.rekognition)
        aws_lambda.configure(build_app(parts.settings(tmp_path), index=index, s3=s3, sqs=sqs,
                                       rekognition=parts.rekognition))
        yield s3, sqs, queue_url, dlq_url, index, service
        aws_lambda.configure(None)


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "r", "body": body, "md5OfBody": "",
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "s",
                       "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest", "awsRegion": "us-east-1"} for body in bodies]}


def enrolment_event(s3, kind=CREATED) -> StorageEvent:
    if kind == REMOVED:
        return StorageEvent(REMOVED, ObjectRef(BUCKET, ENROL_KEY), event_name="ObjectRemoved:Delete")
    head = s3.head_object(Bucket=BUCKET, Key=ENROL_KEY)
    return StorageEvent(CREATED, ObjectRef(BUCKET, ENROL_KEY), etag=head["ETag"].strip('"'),
                        size=head["ContentLength"], event_name="ObjectCreated:Put")


def run_queue(sqs, queue_url, service, first: StorageEvent, timeout: float = 300.0) -> list[dict[str, Any]]:
    """Deliver `first`, then every message the handler sends to the queue, one invocation each (as Lambda would
    with a batch size of 1), until the queue is empty. Per invocation: its paid calls and what it did."""
    invocations = []
    bodies = [json.dumps(notification_for([first]))]
    while bodies:
        context = CountedContext(service, timeout)
        assert aws_lambda.sqs_handler(sqs_event(bodies[:1]), context) == {"batchItemFailures": []}
        invocations.append({"searches": context.calls(), "index_faces": context.calls("IndexFaces"),
                            "left_s": context.get_remaining_time_in_millis() / 1000})
        bodies = bodies[1:]
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages") or []
        for message in received:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return invocations


def named(index) -> dict[tuple[int, int], str | None]:
    found = {}
    for doc in index.iter_documents():
        n = int(doc["key"].split("/")[1].split(".")[0])
        for j, face in enumerate(doc["faces"]):
            found[(n, j)] = face["person"]
    return found


def test_enrolment_re_matches_5000_faces_in_bounded_steps_through_the_queue(library):
    s3, sqs, queue_url, dlq_url, index, service = library
    invocations = run_queue(sqs, queue_url, service, enrolment_event(s3))

    # every face searched exactly once, in steps of at most STEP_CALLS calls, each with time to spare
    total = DOCUMENTS * FACES_PER_DOCUMENT
    assert sum(i["searches"] for i in invocations) == total
    assert max(i["searches"] for i in invocations) <= STEP_CALLS
    assert len(invocations) == -(-total // STEP_CALLS)  # 25 steps: none wasted
    assert invocations[0]["index_faces"] == 1 and sum(i["index_faces"] for i in invocations) == 1
    assert min(i["left_s"] for i in invocations) >= 300 - STEP_CALLS
    # the re-match completed across the steps: Ada's faces, and only hers, are named
    expected = {(n, j): PERSON if is_ada(n, j) else None for n in range(DOCUMENTS) for j in range(FACES_PER_DOCUMENT)}
    assert named(index) == expected
    assert not sqs.receive_message(QueueUrl=dlq_url).get("Messages")

    # the same photo again, as a backfill run sends it: recognised from its version, no paid call at all
    face = next(iter(service.collections[COLLECTION].values()))
    head = s3.head_object(Bucket=BUCKET, Key=ENROL_KEY)
    assert version_of(face["ExternalImageId"]) == enrolment_version(head["ETag"], head["ContentLength"])
    before = len(service.requests)
    again = run_queue(sqs, queue_url, service, enrolment_event(s3))
    assert len(again) == 1
    assert [op for op, _ in service.requests[before:]] == ["ListFaces"]  # no image call, no re-match

    # a removal: only the documents naming Ada are searched again, in steps as well, and her name leaves them
    s3.delete_object(Bucket=BUCKET, Key=ENROL_KEY)
    ada_documents = {n for (n, _), person in expected.items() if person}
    invocations = run_queue(sqs, queue_url, service, enrolment_event(s3, REMOVED))
    assert sum(i["searches"] for i in invocations) == len(ada_documents) * FACES_PER_DOCUMENT
    assert max(i["searches"] for i in invocations) <= STEP_CALLS
    assert len(invocations) > 1
    assert all(person is None for person in named(index).values())
    assert service.collections[COLLECTION] == {}


def test_a_step_hands_over_before_its_invocation_runs_out(library):
    """A step also stops on the invocation's clock: with 1 s a call and 100 s left, it hands over with the
    60 s margin still there, and the chain still completes."""
    s3, sqs, queue_url, dlq_url, index, service = library
    invocations = run_queue(sqs, queue_url, service, enrolment_event(s3), timeout=100.0)
    assert max(i["searches"] for i in invocations) <= 100 - 60 + FACES_PER_DOCUMENT
    assert min(i["left_s"] for i in invocations) > 0
    assert sum(i["searches"] for i in invocations) == DOCUMENTS * FACES_PER_DOCUMENT
    assert sum(person == PERSON for person in named(index).values()) == sum(
        is_ada(n, j) for n in range(DOCUMENTS) for j in range(FACES_PER_DOCUMENT))


def test_a_changed_photo_is_enrolled_again():
    assert enrolment_version('"abc"', 10) == enrolment_version("abc", 10) != enrolment_version("abc", 11)
    assert enrolment_version(None, 10) is None and enrolment_version("abc", None) is None


def test_rematch_step_messages_round_trip_and_other_bodies_are_not_steps():
    step = RematchStep("0a" * 20, "Zoë Ünïcode", "media/people/Zoë/1.jpg", 7)
    assert RematchStep.from_body(step.to_body()) == step
    assert RematchStep.from_body(json.dumps(notification_for([enrolment_event_stub()]))) is None
    assert RematchStep.from_body('{"type": "mediaindex.rematch", "after": 3}') is None
    assert RematchStep.from_body("not json mediaindex.rematch") is None
    assert RematchStep.from_body(None) is None


def enrolment_event_stub() -> StorageEvent:
    return StorageEvent(CREATED, ObjectRef(BUCKET, ENROL_KEY), etag="abc", size=3, event_name="ObjectCreated:Put")
