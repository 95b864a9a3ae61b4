"""The AWS enrolment path: a photo put under people/<name>/ in S3 (moto) is enrolled in a Rekognition collection
(botocore Stubber, responses of the real API's shape) through the Lambda app's routing and
People.handle_enrolment_event; files already indexed (SQLite) gain the name by searching their stored face boxes,
and deleting the photo takes the name away again."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from mediaindex.adapters.faces.rekognition import RekognitionFaceCollection, external_image_id
from mediaindex.bootstrap import build_app
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.messages import CREATED, REMOVED, StorageEvent
from mediaindex.domain.model import Box
from mediaindex.entrypoints import aws_lambda
from mediaindex.media.encode import REKOGNITION, crop_face
from mediaindex.media.picture import Picture
from mediaindex.ports import ObjectRef
from mediaindex.services import people as people_module
from mediaindex.services.indexing import Pipeline
from mediaindex.services.people_rules import enrolment_version

BUCKET = "media"
COLLECTION = "mediaindex-faces"
OBAMA = "Barack Obama"
ENROL_KEY = "people/Barack Obama/1.jpg"
FACE_ID = "4c55926e-69b3-5c80-8c9b-78ea01d30690"
# face boxes of the indexed photos, as the analyzer stored them (ratios)
BOXES = {
    "photos/two_people_obama_biden.jpg": [Box(0.22, 0.08, 0.16, 0.3), Box(0.67, 0.1, 0.15, 0.28)],
    "photos/biden_1.jpg": [Box(0.45, 0.2, 0.25, 0.4)],
}
OBAMA_FACES = {("photos/two_people_obama_biden.jpg", 0)}


def box_json(box: Box) -> dict[str, float]:
    return {"Width": box.width, "Height": box.height, "Left": box.left, "Top": box.top}


def face_record(external_id: str) -> dict:
    return {"FaceId": FACE_ID, "BoundingBox": box_json(Box(0.4, 0.2, 0.2, 0.35)),
            "ImageId": "1a2b3c4d-0000-4000-8000-000000000001", "ExternalImageId": external_id, "Confidence": 99.99,
            "IndexFacesModelVersion": "7.0"}


def not_found(stub: Stubber, operation: str, params: dict) -> None:
    stub.add_client_error(operation, service_error_code="ResourceNotFoundException",
                          service_message=f"The collection id: {COLLECTION} does not exist", http_status_code=400,
                          expected_params=params)


@pytest.fixture
def aws(tmp_path, faces_dir):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for key in BOXES:
            s3.put_object(Bucket=BUCKET, Key=key, Body=(faces_dir / key.split("/")[-1]).read_bytes())
        s3.put_object(Bucket=BUCKET, Key=ENROL_KEY, Body=(faces_dir / "obama_1.jpg").read_bytes())
        yield s3


@pytest.fixture
def wiring(aws, tmp_path):
    from mediaindex.adapters.index.sqlite import SqliteIndex

    settings = Settings(home=tmp_path, analyzer="rekognition", collection_id=COLLECTION)
    rekognition = boto3.client("rekognition", region_name="us-east-1")
    stub = Stubber(rekognition)
    index = SqliteIndex(str(tmp_path / "index.db"), "media")
    index.ensure_ready()
    for key, boxes in BOXES.items():  # documents as the pipeline wrote them before anyone was enrolled
        doc = {**docs.base_document(BUCKET, key, None), "status": docs.INDEXED, "error": None, "media_type": "image",
               "content_sha256": key, "people": [], "face_count": len(boxes),
               "faces": [{"box": b.__dict__, "confidence": 99.9, "person": None, "face_id": None, "similarity": None}
                         for b in boxes]}
        index.put(doc, None)
    aws_lambda.configure(build_app(settings, index=index, s3=aws, rekognition=rekognition))
    with stub:
        yield aws_lambda, stub, index, aws
    aws_lambda.configure(None)


def enrolled_id(aws) -> str:
    """The ExternalImageId the enrolment photo gets: the name, the photo's source and its version (ETag, size)."""
    head = aws.head_object(Bucket=BUCKET, Key=ENROL_KEY)
    return external_image_id(OBAMA, f"{BUCKET}/{ENROL_KEY}", enrolment_version(head["ETag"], head["ContentLength"]))


def expect_searches(stub: Stubber, index, aws, only=None) -> int:
    """Queue one SearchFacesByImage answer per stored face box, in the order the documents will be visited."""
    calls = 0
    external_id = enrolled_id(aws) if only is None else ""  # a removal finds nobody: no id to name
    for doc in index.iter_documents():
        if not doc.get("faces") or (only is not None and only not in doc["people"]):
            continue
        image = Picture.from_bytes(aws.get_object(Bucket=BUCKET, Key=doc["key"])["Body"].read()).image
        for i, face in enumerate(doc["faces"]):
            _, inner = crop_face(image, Box(**face["box"]), 0.4, REKOGNITION.min_side)
            matches = []
            if (doc["key"], i) in OBAMA_FACES and only is None:
                matches = [{"Similarity": 99.41, "Face": face_record(external_id)}]
            stub.add_response("search_faces_by_image", {
                "SearchedFaceBoundingBox": box_json(inner), "SearchedFaceConfidence": 99.9, "FaceMatches": matches,
                "FaceModelVersion": "7.0"}, {"CollectionId": COLLECTION, "Image": ANY, "MaxFaces": 1,
                                             "FaceMatchThreshold": 80.0})
            calls += 1
    return calls


def event(kind: str) -> StorageEvent:
    return StorageEvent(kind, ObjectRef(BUCKET, ENROL_KEY), event_name="ObjectCreated:Put" if kind == CREATED else "ObjectRemoved:Delete")


def test_a_photo_under_people_enrols_and_its_removal_forgets(wiring):
    handler, stub, index, s3 = wiring
    external_id = enrolled_id(s3)
    assert external_id.startswith(external_image_id(OBAMA, f"{BUCKET}/{ENROL_KEY}") + ":")
    assert all(c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:" for c in external_id)

    # created: create the collection, enrol, and only then forget what this photo enrolled before (here only the
    # face just enrolled, which stays): an interruption never leaves the person without a face
    not_found(stub, "describe_collection", {"CollectionId": COLLECTION})
    stub.add_response("create_collection", {
        "StatusCode": 200, "CollectionArn": f"aws:rekognition:us-east-1:123456789012:collection/{COLLECTION}",
        "FaceModelVersion": "7.0"}, {"CollectionId": COLLECTION})
    stub.add_response("index_faces", {
        "FaceRecords": [{"Face": face_record(external_id),
                         "FaceDetail": {"BoundingBox": box_json(Box(0.4, 0.2, 0.2, 0.35)), "Confidence": 99.99}}],
        "FaceModelVersion": "7.0", "UnindexedFaces": []},
        {"CollectionId": COLLECTION, "Image": ANY, "ExternalImageId": external_id, "MaxFaces": 1,
         "QualityFilter": "AUTO", "DetectionAttributes": ["DEFAULT"]})
    stub.add_response("list_faces", {"Faces": [face_record(external_id)], "FaceModelVersion": "7.0"},
                      {"CollectionId": COLLECTION, "MaxResults": 4096})
    searches = expect_searches(stub, index, s3)
    outcome = handler.handle(event(CREATED))
    stub.assert_no_pending_responses()
    assert (outcome["action"], outcome["faces"], outcome["api_calls"]) == (people_module.ENROLLED, 1, 1 + searches)
    group = index.get(docs.document_id(BUCKET, "photos/two_people_obama_biden.jpg")).doc
    assert group["people"] == [OBAMA]
    assert (group["faces"][0]["person"], group["faces"][0]["face_id"], group["faces"][0]["similarity"]) == (OBAMA, FACE_ID, 99.41)
    assert group["faces"][1]["person"] is None
    assert index.get(docs.document_id(BUCKET, "photos/biden_1.jpg")).doc["people"] == []

    # removed: the photo's faces leave the collection, and only documents naming the person are searched again
    s3.delete_object(Bucket=BUCKET, Key=ENROL_KEY)
    stub.add_response("list_faces", {"Faces": [face_record(external_id)], "FaceModelVersion": "7.0"},
                      {"CollectionId": COLLECTION, "MaxResults": 4096})
    stub.add_response("delete_faces", {"DeletedFaces": [FACE_ID], "UnsuccessfulFaceDeletions": []},
                      {"CollectionId": COLLECTION, "FaceIds": [FACE_ID]})
    searches = expect_searches(stub, index, s3, only=OBAMA)
    assert searches == 2
    outcome = handler.handle(event(REMOVED))
    stub.assert_no_pending_responses()
    assert (outcome["action"], outcome["faces"]) == (people_module.FORGOTTEN, 1)
    for key in BOXES:
        doc = index.get(docs.document_id(BUCKET, key)).doc
        assert doc["people"] == [] and all(f["person"] is None for f in doc["faces"])


def test_a_photo_without_a_usable_face_is_refused_with_the_reason(wiring):
    handler, stub, index, _ = wiring
    stub.add_response("describe_collection", {"FaceCount": 0, "FaceModelVersion": "7.0",
                                              "CollectionARN": f"aws:rekognition:us-east-1:123456789012:collection/{COLLECTION}"},
                      {"CollectionId": COLLECTION})
    stub.add_response("index_faces", {
        "FaceRecords": [], "FaceModelVersion": "7.0",
        "UnindexedFaces": [{"Reasons": ["LOW_SHARPNESS", "SMALL_BOUNDING_BOX"],
                            "FaceDetail": {"BoundingBox": box_json(Box(0.1, 0.1, 0.02, 0.02)), "Confidence": 60.0}}]},
        {"CollectionId": COLLECTION, "Image": ANY, "ExternalImageId": ANY, "MaxFaces": 1, "QualityFilter": "AUTO",
         "DetectionAttributes": ["DEFAULT"]})
    not_found(stub, "list_faces", {"CollectionId": COLLECTION, "MaxResults": 4096})  # the photo's older faces go
    outcome = handler.handle(event(CREATED))
    stub.assert_no_pending_responses()
    assert outcome["action"] == "failed" and "low sharpness" in outcome["reason"]
    assert index.get(docs.document_id(BUCKET, "photos/two_people_obama_biden.jpg")).doc["people"] == []


def test_compare_on_rekognition_crops_each_face_of_a_against_b(tmp_path, faces_dir):
    from mediaindex.bootstrap import build_people

    settings = Settings(home=tmp_path, analyzer="rekognition", collection_id=COLLECTION)
    rekognition = boto3.client("rekognition", region_name="us-east-1")
    stub = Stubber(rekognition)
    detail = lambda box: {"BoundingBox": box_json(box), "Confidence": 99.9}  # noqa: E731
    stub.add_response("detect_faces", {"FaceDetails": [detail(Box(0.22, 0.08, 0.16, 0.3)), detail(Box(0.67, 0.1, 0.15, 0.28)),
                                                       detail(Box(0.01, 0.9, 0.02, 0.04))]},
                      {"Image": ANY, "Attributes": ["DEFAULT"]})
    biden_box = box_json(Box(0.45, 0.2, 0.25, 0.4))
    for similarity in (2.13, 99.12):
        stub.add_response("compare_faces", {
            "SourceImageFace": {"BoundingBox": box_json(Box(0.3, 0.25, 0.4, 0.5)), "Confidence": 99.9},
            "FaceMatches": [{"Similarity": similarity, "Face": {"BoundingBox": biden_box, "Confidence": 99.9}}],
            "UnmatchedFaces": []}, {"SourceImage": ANY, "TargetImage": ANY, "SimilarityThreshold": 0.0})
    stub.add_client_error("compare_faces", service_error_code="InvalidParameterException",
                          service_message="There are no faces in the image. Should be at least 1.", http_status_code=400)
    pipeline = Pipeline(storage=None, analyzer=None, index=None,
                        faces=RekognitionFaceCollection(settings, client=rekognition))
    with stub:
        result = build_people(settings, pipeline).compare(
            Picture.from_bytes((faces_dir / "two_people_obama_biden.jpg").read_bytes()),
            Picture.from_bytes((faces_dir / "biden_1.jpg").read_bytes()))
        stub.assert_no_pending_responses()
    assert result["best"] == {"a": 1, "b": 0, "similarity": 99.12, "same_person": True}
    assert [p["similarity"] for p in result["pairs"]] == [99.12, 2.13]
    assert len(result["faces_a"]) == 3 and len(result["faces_b"]) == 1 and result["api_calls"] == 4
