"""Faults during a run of a few hundred files on the AWS path: Rekognition throttling (passing and persistent),
OpenSearch 429/503 and a full outage, S3 errors. The S3 bucket notifies an SQS queue (moto's server); a loop plays
Lambda's SQS poller (receive a batch, run the handler, delete what succeeded, let the rest come back). In the end
every file is indexed or in the dead-letter queue with its reason: nothing lost, nothing doubled."""

from __future__ import annotations

import io
import json
import random
from collections import Counter

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from opensearchpy import OpenSearch
from PIL import Image

from mediaindex.adapters.analysis.rekognition import make_client
from mediaindex.adapters.index.opensearch import OpenSearchIndex
from mediaindex.adapters.s3_events import events_from_message_body
from mediaindex.bootstrap import build_app
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.model import Analysis, Label
from mediaindex.entrypoints import aws_lambda
from mediaindex.entrypoints.cli.invoke import LocalContext
from tests.rekognition.conftest import retry_sleeps  # noqa: F401 - fixture: botocore's backoff without waiting
from tests.support.fault_proxy import FaultProxy
from tests.support.rekognition_emulator import RekognitionEmulator

FILES = 240
MAX_RECEIVES = 4
BUCKET = "faulty-media"


class QuickRekognition(RekognitionEmulator):
    """Rekognition's shapes without running models: faults are what this test is about, not labels."""

    def _analysis(self, data: bytes):
        shade = sum(data[-64:]) % 3
        return Analysis(analyzer="rekognition", labels=[Label(["Red", "Green", "Blue"][shade], 90.0, parents=["Color"])])


def picture(n: int) -> bytes:
    buf = io.BytesIO()
    rng = random.Random(n)
    Image.new("RGB", (128, 96), (rng.randrange(256), rng.randrange(256), n % 256)).save(buf, "JPEG")
    return buf.getvalue()


def lambda_record(message: dict) -> dict:
    """An SQS message as the Lambda poller hands it to the function."""
    return {
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
        "attributes": message.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest", "awsRegion": "us-east-1",
    }


@pytest.fixture
def world(osmem_server, retry_sleeps):  # noqa: F811
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    # moto's state lives in the process, shared by every server in it: start from an empty account
    requests.post(f"http://127.0.0.1:{moto._server.server_port}/moto-api/reset", timeout=10).raise_for_status()
    endpoint = f"http://127.0.0.1:{moto._server.server_port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    dlq_url = sqs.create_queue(QueueName="ingest-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName="ingest", Attributes={
        # the queue's own redrive is the backstop, one delivery after the handler's own dead-lettering
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES + 1)}),
    })["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
    with osmem_server.clone() as clone, FaultProxy(clone.url, seed=11) as proxy:
        settings = Settings(analyzer="rekognition", index_url=proxy.url, aws_region="us-east-1", collection_id="faults",
                            dlq_url=dlq_url, max_receives=MAX_RECEIVES, features=("labels", "faces"))
        client = make_client(settings)
        rekognition = QuickRekognition(client, seed=5)
        index = OpenSearchIndex.connect(proxy.url, settings, backoff_base=0.01, backoff_cap=0.05)
        storage_client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        aws_lambda.configure(build_app(settings, index=index, s3=storage_client, rekognition=client, sqs=sqs))
        yield {"s3": s3, "sqs": sqs, "queue": queue_url, "dlq": dlq_url, "proxy": proxy, "rekognition": rekognition,
               "storage_client": storage_client, "direct": OpenSearch(hosts=[clone.url]), "index": index}
        aws_lambda.configure(None)
    moto.stop()


def inject_s3_errors(client, rate: float, seed: int) -> Counter:
    """S3 answers some GetObject calls with 503 SlowDown (after botocore's own retries would have given up)."""
    rng, injected = random.Random(seed), Counter()

    def maybe_fail(**kwargs):
        if rng.random() < rate:
            injected["SlowDown"] += 1
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                               "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject")

    client.meta.events.register("before-call.s3.GetObject", maybe_fail)
    return injected


def drain(sqs, queue_url: str, on_round=None, max_rounds: int = 400) -> int:
    """Lambda's SQS poller: batches of up to 10; failed items become visible again at once."""
    rounds = 0
    while rounds < max_rounds:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                       WaitTimeSeconds=0).get("Messages", [])
        if not received:
            return rounds
        rounds += 1
        if on_round:
            on_round(rounds)
        try:
            result = aws_lambda.sqs_handler({"Records": [lambda_record(m) for m in received]}, LocalContext())
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        except BatchProcessingError:  # every record failed: Lambda sees an error and the whole batch comes back
            failed = {m["MessageId"] for m in received}
        for m in received:
            if m["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    raise AssertionError(f"queue not drained after {max_rounds} rounds")


def test_every_file_ends_indexed_or_dead_lettered_with_its_reason(world):
    s3, sqs = world["s3"], world["sqs"]
    keys = [f"shots/{n:04d} {'é' if n % 7 == 0 else ''}+frame.jpg" for n in range(FILES)]
    hopeless = set(keys[5::60])  # Rekognition throttles these every time: they must end in the DLQ
    import hashlib

    world["rekognition"].always_throttle_sha = {hashlib.sha256(picture(keys.index(k))).hexdigest() for k in hopeless}
    for n, key in enumerate(keys):
        s3.put_object(Bucket=BUCKET, Key=key, Body=picture(n))

    # passing faults everywhere, and a full OpenSearch outage for a few rounds
    world["rekognition"].throttle_rate = {"DetectLabels": 0.25, "DetectFaces": 0.25}
    world["proxy"].rates = {429: 0.08, 503: 0.05}
    s3_faults = inject_s3_errors(world["storage_client"], rate=0.08, seed=3)

    def outage(round_no: int) -> None:
        world["proxy"].outage = 6 <= round_no < 10

    rounds = drain(sqs, world["queue"], on_round=outage)

    world["direct"].indices.refresh(index="_all")
    dead = {}
    while True:
        batch = sqs.receive_message(QueueUrl=world["dlq"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            break
        for m in batch:
            for event in events_from_message_body(m["Body"]):
                assert event.ref.key not in dead, f"{event.ref.key} dead-lettered twice"
                dead[event.ref.key] = m.get("MessageAttributes", {})
            sqs.delete_message(QueueUrl=world["dlq"], ReceiptHandle=m["ReceiptHandle"])

    indexed = {}
    for key in keys:
        stored = world["index"].get(docs.document_id(BUCKET, key)) if not world["proxy"].outage else None
        if stored is not None and stored.doc["status"] == "indexed":
            indexed[key] = stored.doc
    # nothing lost: every file is somewhere; nothing doubled: one document per file, never both places
    assert set(indexed) | set(dead) == set(keys), f"lost: {sorted(set(keys) - set(indexed) - set(dead))[:5]}"
    assert not set(indexed) & set(dead)
    total = world["direct"].count(index="media", body={"query": {"term": {"status": "indexed"}}})["count"]
    assert total == len(indexed)
    # the hopeless ones are dead-lettered, each with its reason
    assert hopeless <= set(dead)
    for key in hopeless:
        reason = dead[key]["error_message"]["StringValue"]
        assert "Throttl" in reason or "throttl" in reason
    # most files got through despite the faults, and the faults really happened
    assert len(indexed) >= FILES - len(hopeless) - FILES // 10
    assert world["proxy"].injected.get(429, 0) > 0 and world["proxy"].injected.get(503, 0) > 0
    assert world["proxy"].injected.get(0, 0) > 0 and s3_faults["SlowDown"] > 0
    assert rounds > FILES // 10
