"""End to end on the AWS path: the sample events in events/ through the Lambda handlers, with S3 on moto's server, the real
Rekognition adapter on a real boto3 client answered by the emulator (real photos, real face matching), and the
OpenSearch adapter on osmem-server through opensearch-py. The index is then queried with OpenSearch queries."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer
from opensearchpy import OpenSearch

from mediaindex.adapters.analysis.rekognition import make_client
from mediaindex.adapters.index.opensearch import OpenSearchIndex
from mediaindex.bootstrap import build_app
from mediaindex.config import Settings
from mediaindex.domain.query import Query
from mediaindex.domain.query_syntax import parse_query
from mediaindex.entrypoints.cli.query_flags import query_from_flags
from mediaindex.entrypoints import aws_lambda
from mediaindex.entrypoints.cli.invoke import LocalContext
from mediaindex.media.picture import Picture
from tests.support.rekognition_emulator import RekognitionEmulator

pytestmark = pytest.mark.models

EVENTS = Path(__file__).resolve().parents[2] / "events"
BUCKET = "mediaindex-demo-bucket"
# decoded key -> photo in ../shared/data/faces (events/README.md)
CONTENT = {
    "photos/obama_1.jpg": "obama_1.jpg",
    "photos/copy of obama_1.jpg": "obama_1.jpg",
    "archive/2024/two_people_obama_biden.jpg": "two_people_obama_biden.jpg",
    "café/東京 guido_van_rossum.jpg": "guido_van_rossum_1.jpg",
    "people & places/two people+1.jpg": "two_people_obama_biden.jpg",
    "odd/100% sure (wozniak).jpg": "steve_wozniak_1.jpg",
    "photos/biden_1.jpg": "biden_1.jpg",
}


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def world(faces_dir, osmem_server):
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    # moto's state lives in the process, shared by every server in it: start from an empty account
    requests.post(f"http://127.0.0.1:{moto._server.server_port}/moto-api/reset", timeout=10).raise_for_status()
    with osmem_server.clone() as clone:
        s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{moto._server.server_port}")
        s3.create_bucket(Bucket=BUCKET)
        for key, photo in CONTENT.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=(faces_dir / photo).read_bytes())
        settings = Settings(analyzer="rekognition", index_url=clone.url, aws_region="us-east-1", collection_id="e2e-faces")
        client = make_client(settings)
        emulator = RekognitionEmulator(client)
        index = OpenSearchIndex.connect(clone.url, settings)
        app = build_app(settings, index=index, s3=s3, rekognition=client)
        pipeline = app.pipeline
        # Two known people, enrolled in the collection the way `people add` does.
        pipeline.faces.ensure_collection()
        pipeline.faces.enroll("Barack Obama", Picture.from_bytes((faces_dir / "obama_2.jpg").read_bytes()), "people/Barack Obama/2.jpg")
        pipeline.faces.enroll("Joe Biden", Picture.from_bytes((faces_dir / "biden_1.jpg").read_bytes()), "people/Joe Biden/1.jpg")
        aws_lambda.configure(app)
        raw = OpenSearch(hosts=[clone.url])
        yield {"pipeline": pipeline, "index": index, "emulator": emulator, "raw": raw, "s3": s3}
        aws_lambda.configure(None)
    moto.stop()


@pytest.fixture(scope="module")
def created(world):
    """Every creation event, as S3 would send them: directly and through SQS."""
    results = {}
    for name in ("put.json", "copy.json", "multipart-upload.json", "special-keys.json"):
        results[name] = aws_lambda.s3_handler(event(name), LocalContext())
    results["sqs-batch.json"] = aws_lambda.sqs_handler(event("sqs-batch.json"), LocalContext())
    world["index"].refresh()
    return results


def keys(result) -> set[str]:
    return {hit["key"] for hit in result.hits}


def test_every_created_file_has_its_document(world, created):
    assert created["sqs-batch.json"] == {"batchItemFailures": []}
    everything = world["index"].search(query_from_flags(None, limit=100))
    assert keys(everything) == set(CONTENT)
    doc = world["index"].get(world["index"].search(query_from_flags(None, prefix="café/")).hits[0]["id"]).doc
    assert doc["key"] == "café/東京 guido_van_rossum.jpg" and doc["bucket"] == BUCKET
    assert doc["analyzer"] == "rekognition" and doc["status"] == "indexed" and doc["content_sha256"]
    assert doc["width"] > 0 and doc["faces"] and doc["faces"][0]["age_low"] is not None


def test_a_copy_reuses_the_analysis_instead_of_calling_rekognition(created):
    [original] = created["put.json"]["outcomes"]
    [copy] = created["copy.json"]["outcomes"]
    assert original["action"] == "indexed" and original["api_calls"] >= 2
    assert copy["action"] == "reused" and copy["api_calls"] == 0


def test_every_face_is_searched_and_known_people_are_named(world, created):
    [two] = created["multipart-upload.json"]["outcomes"]
    assert two["faces"] == 2
    doc = world["index"].search(query_from_flags(None, prefix="archive/")).hits[0]
    assert sorted(doc["people"]) == ["Barack Obama", "Joe Biden"]
    assert all(f["similarity"] >= 80 for f in doc["faces"] if f["person"])
    obama = world["index"].search(Query(parse_query('person:"barack obama"'), limit=50))
    assert keys(obama) == {"photos/obama_1.jpg", "photos/copy of obama_1.jpg", "archive/2024/two_people_obama_biden.jpg",
                           "people & places/two people+1.jpg"}
    assert keys(world["index"].search(Query(parse_query('person:"Joe Biden"'), limit=50))) == {
        "archive/2024/two_people_obama_biden.jpg", "people & places/two people+1.jpg", "photos/biden_1.jpg"}


def test_raw_opensearch_queries_nested_label_with_minimum_confidence_and_person(world, created):
    raw, alias = world["raw"], "media"
    person = raw.search(index=alias, body={"query": {"bool": {"filter": [
        {"term": {"people": "Barack Obama"}}, {"term": {"status": "indexed"}}]}}, "size": 50})
    assert {h["_source"]["key"] for h in person["hits"]["hits"]} == keys(
        world["index"].search(Query(parse_query('person:"Barack Obama"'), limit=50)))
    # a label entry named Person with at least 80% confidence, tied together by a nested query
    nested = raw.search(index=alias, body={"query": {"nested": {"path": "labels", "query": {"bool": {"filter": [
        {"term": {"labels.name": "Person"}}, {"range": {"labels.confidence": {"gte": 80}}}]}}}}, "size": 50})
    found = {h["_source"]["key"] for h in nested["hits"]["hits"]}
    assert found and found <= set(CONTENT)
    for hit in nested["hits"]["hits"]:
        assert any(l["name"] == "Person" and l["confidence"] >= 80 for l in hit["_source"]["labels"])
    too_sure = raw.search(index=alias, body={"query": {"nested": {"path": "labels", "query": {"bool": {"filter": [
        {"term": {"labels.name": "Person"}}, {"range": {"labels.confidence": {"gt": 100}}}]}}}}})
    assert too_sure["hits"]["total"]["value"] == 0


def test_deletes_and_delete_markers_remove_documents_and_late_events_do_not_resurrect(world, created):
    for name, key in (("delete.json", "photos/copy of obama_1.jpg"), ("delete-marker.json", "archive/2024/two_people_obama_biden.jpg")):
        world["s3"].delete_object(Bucket=BUCKET, Key=key)
        result = aws_lambda.s3_handler(event(name), LocalContext())
        assert [o["action"] for o in result["outcomes"]] == ["removed"]
    world["index"].refresh()
    remaining = keys(world["index"].search(query_from_flags(None, limit=100)))
    assert "photos/copy of obama_1.jpg" not in remaining and "archive/2024/two_people_obama_biden.jpg" not in remaining
    assert "photos/obama_1.jpg" in remaining
    # the copy's creation event, delivered again late: older than its deletion, so it stays deleted
    late = aws_lambda.s3_handler(event("copy.json"), LocalContext())
    assert [o["action"] for o in late["outcomes"]] == ["stale"]
    world["index"].refresh()
    assert "photos/copy of obama_1.jpg" not in keys(world["index"].search(query_from_flags(None, limit=100)))


def test_the_same_events_again_change_nothing(world, created):
    before = world["emulator"].calls.copy()
    again = aws_lambda.sqs_handler(event("sqs-batch.json"), LocalContext())
    assert again == {"batchItemFailures": []}
    assert world["emulator"].calls.get("DetectLabels") == before.get("DetectLabels")


def test_a_video_through_the_handler_says_when_a_known_person_appears(world, video_path, faces_dir):
    """The clip on S3, through the S3 handler with the Rekognition adapter (emulated on the local models) and
    OpenSearch: one document with the timeline; a person query finds it. Rekognition has no faces-alone call, so
    only the sampled frames are looked at (no following): Lin-Manuel Miranda is named in his close-up."""
    from mediaindex.adapters.s3_events import notification_for
    from mediaindex.domain.messages import CREATED, StorageEvent
    from mediaindex.ports import ObjectRef

    pipeline, s3 = world["pipeline"], world["s3"]
    pipeline.faces.enroll("Lin-Manuel Miranda", Picture.from_bytes((faces_dir / "lin_manuel_miranda_1.png").read_bytes()),
                          "people/Lin-Manuel Miranda/1.png")
    key = "videos/Hamilton at the White House.mp4"
    s3.put_object(Bucket=BUCKET, Key=key, Body=video_path.read_bytes())
    head = s3.head_object(Bucket=BUCKET, Key=key)
    before = dict(world["emulator"].calls)
    notification = notification_for([StorageEvent(CREATED, ObjectRef(BUCKET, key), "0000000000000000A1",
                                                  head["ETag"].strip('"'), head["ContentLength"])])
    result = aws_lambda.s3_handler(notification, LocalContext())
    assert [o["action"] for o in result["outcomes"]] == ["indexed"], result
    world["index"].refresh()
    found = world["index"].search(parse_query('person:"Lin-Manuel Miranda" type:video'))
    [doc] = found.hits
    assert doc["key"] == key and doc["media_type"] == "video"
    video = doc["video"]
    assert (video["width"], video["height"], video["codec"]) == (640, 360, "h264")
    # 0:00 and 0:06, and the first frame of one new shot in each interval (0:01, 0:07)
    assert (video["frames_sampled"], video["frames_at_shots"], video["frames_followed"]) == (4, 2, 0)
    lin = [(s["start"], s["end"]) for s in video["segments"]["people"] if s["name"] == "Lin-Manuel Miranda"]
    assert any(start <= 6.0 < end for start, end in lin), lin  # the sample at 6 s: his close-up
    calls = {op: n - before.get(op, 0) for op, n in world["emulator"].calls.items()}
    assert calls["DetectLabels"] == 4 and calls["DetectFaces"] == 4  # one of each per sampled frame
