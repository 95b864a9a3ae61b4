"""Re-matching only what can change (issue 29): with a library face collection (MEDIAINDEX_LIBRARY_COLLECTION), every
picture indexed with faces is also indexed into it (one IndexFaces), and an enrolment finds the indexed faces that
match the new person with one SearchFacesByImage there, instead of one search per indexed face. Pictures indexed
before (no `library_faces` in their model versions) are still walked face by face, in steps through the queue."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from mediaindex.bootstrap import build_app
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.messages import StorageEvent
from mediaindex.entrypoints import aws_lambda
from mediaindex.ports import ObjectRef
from tests.people.test_rematch_steps import (
    BOXES, BUCKET, COLLECTION, ENROL_KEY, FACES_PER_DOCUMENT, PERSON, FaceService, enrolment_event, is_ada, named,
    STEP_CALLS, aws_parts, picture, run_queue,
)

LIBRARY = "mediaindex-library-faces"
KEPT, LEGACY = 1000, 250  # pictures indexed with the library collection, and before it existed


class LibraryService(FaceService):
    """FaceService, plus DetectFaces (the four faces every test picture has) and the library collection: IndexFaces
    keeps each face of the whole picture, red ones (Ada's) marked; SearchFacesByImage there with Ada's enrolment
    photo returns her faces, as many as MaxFaces allows."""

    def _DetectFaces(self, params: dict[str, Any]) -> Any:
        return {"FaceDetails": [{"BoundingBox": _box(b), "Confidence": 99.9} for b in BOXES]}

    def _IndexFaces(self, params: dict[str, Any]) -> Any:
        if params["CollectionId"] != LIBRARY:
            return super()._IndexFaces(params)
        faces = self._faces_of(LIBRARY)
        image = Image.open(io.BytesIO(params["Image"]["Bytes"])).convert("RGB")
        records = []
        for n, box in enumerate(BOXES):
            red = _red(image.getpixel((int((box["left"] + box["width"] / 2) * image.width),
                                       int((box["top"] + box["height"] / 2) * image.height))))
            face = {"FaceId": f"{params['ExternalImageId'][:20]}-{n}-{len(faces)}", "ImageId": "i",
                    "ExternalImageId": params["ExternalImageId"], "BoundingBox": _box(box), "Confidence": 99.9,
                    "IndexFacesModelVersion": "7.0"}
            faces[face["FaceId"]] = {**face, "ada": red}
            records.append({"Face": face, "FaceDetail": {"BoundingBox": _box(box), "Confidence": 99.9}})
        return {"FaceRecords": records, "FaceModelVersion": "7.0", "UnindexedFaces": []}

    def _SearchFacesByImage(self, params: dict[str, Any]) -> Any:
        if params["CollectionId"] != LIBRARY:
            return super()._SearchFacesByImage(params)
        image = Image.open(io.BytesIO(params["Image"]["Bytes"])).convert("RGB")
        first = BOXES[0]  # the enrolment photo's face
        ada = _red(image.getpixel((int((first["left"] + 0.1) * image.width), int((first["top"] + 0.1) * image.height))))
        found = [{k: v for k, v in f.items() if k != "ada"} for f in self._faces_of(LIBRARY).values() if f["ada"] and ada]
        return {"SearchedFaceBoundingBox": _box(first), "SearchedFaceConfidence": 99.9, "FaceModelVersion": "7.0",
                "FaceMatches": [{"Similarity": 98.5, "Face": f} for f in found[:int(params["MaxFaces"])]]}


def _box(box: dict[str, float]) -> dict[str, float]:
    return {"Width": box["width"], "Height": box["height"], "Left": box["left"], "Top": box["top"]}


def _red(pixel: tuple[int, ...]) -> bool:
    return pixel[0] > 180 and pixel[1] < 80


@pytest.fixture
def library(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with aws_parts(tmp_path) as parts:
        s3, sqs, queue_url, dlq_url, index = parts.s3, parts.sqs, parts.queue_url, parts.dlq_url, parts.index
        service = LibraryService(parts.rekognition)
        app = build_app(parts.settings(tmp_path, library_collection_id=LIBRARY), index=index, s3=s3, sqs=sqs,
                        rekognition=parts.rekognition)
        patterns: dict[tuple[bool, ...], bytes] = {}
        legacy = []
        for n in range(KEPT + LEGACY):
            key = f"photos/{n:05d}.jpg"
            pattern = tuple(is_ada(n, j) for j in range(FACES_PER_DOCUMENT))
            body = patterns.setdefault(pattern, picture(pattern))
            s3.put_object(Bucket=BUCKET, Key=key, Body=body + n.to_bytes(4, "big"))  # bytes of its own
            if n < KEPT:  # indexed by the pipeline, into the library collection too
                assert app.handle_event(StorageEvent.created(ObjectRef(BUCKET, key))).action == "indexed"
            else:  # indexed before the library collection existed
                legacy.append({**docs.base_document(BUCKET, key, None), "status": docs.INDEXED, "error": None,
                               "media_type": "image", "content_sha256": f"legacy-{n}", "people": [],
                               "face_count": FACES_PER_DOCUMENT, "model_versions": {},
                               "faces": [{"box": dict(b), "confidence": 99.9, "person": None, "face_id": None,
                                          "similarity": None} for b in BOXES]})
        index.put_many(legacy)
        s3.put_object(Bucket=BUCKET, Key=ENROL_KEY, Body=picture((True, False, False, False)))
        aws_lambda.configure(app)
        yield s3, sqs, queue_url, dlq_url, index, service
        aws_lambda.configure(None)


def searches(service, start: int, collection: str) -> int:
    return sum(1 for op, p in service.requests[start:] if op == "SearchFacesByImage" and p["CollectionId"] == collection)


def test_indexing_keeps_each_pictures_faces_in_the_library_collection(library):
    s3, sqs, queue_url, dlq_url, index, service = library
    kept = [d for d in index.iter_documents() if docs.in_library(d)]
    assert len(kept) == KEPT
    assert sum(1 for op, p in service.requests if op == "IndexFaces" and p["CollectionId"] == LIBRARY) == KEPT
    assert len(service.collections[LIBRARY]) == KEPT * FACES_PER_DOCUMENT
    assert {f["ExternalImageId"] for f in service.collections[LIBRARY].values()} == {d["content_sha256"] for d in kept}


def test_an_enrolment_searches_the_library_once_and_walks_only_the_pictures_indexed_before(library):
    s3, sqs, queue_url, dlq_url, index, service = library
    start = len(service.requests)
    invocations = run_queue(sqs, queue_url, service, enrolment_event(s3))

    assert searches(service, start, LIBRARY) == 1  # the kept pictures: one search for all of them
    assert searches(service, start, COLLECTION) == LEGACY * FACES_PER_DOCUMENT  # the others, face by face
    assert max(i["searches"] for i in invocations) <= STEP_CALLS
    total = KEPT + LEGACY
    expected = {(n, j): PERSON if is_ada(n, j) else None for n in range(total) for j in range(FACES_PER_DOCUMENT)}
    assert named(index) == expected
    ada = next(d for d in index.iter_documents() if d["key"] == "photos/00000.jpg")
    assert ada["people"] == [PERSON] and ada["faces"][0]["similarity"] == 98.5
    assert ada["faces"][0]["face_id"] in service.collections[COLLECTION]  # the enrolled face, not the library's
    assert not sqs.receive_message(QueueUrl=dlq_url).get("Messages")


def test_a_changed_enrolment_photo_also_checks_the_documents_the_old_face_named(library):
    s3, sqs, queue_url, dlq_url, index, service = library
    run_queue(sqs, queue_url, service, enrolment_event(s3))
    naming = sum(1 for d in index.iter_documents() if PERSON in d["people"] and docs.in_library(d))
    s3.put_object(Bucket=BUCKET, Key=ENROL_KEY, Body=picture((True, False, False, False)) + b"v2")
    start = len(service.requests)
    run_queue(sqs, queue_url, service, enrolment_event(s3))
    # the library search again, then the kept documents naming Ada and every picture indexed before, face by face
    assert searches(service, start, LIBRARY) == 1
    assert searches(service, start, COLLECTION) == (naming + LEGACY) * FACES_PER_DOCUMENT
    assert len(service.collections[COLLECTION]) == 1  # the old face went
    assert sum(p == PERSON for p in named(index).values()) == sum(
        is_ada(n, j) for n in range(KEPT + LEGACY) for j in range(FACES_PER_DOCUMENT))


# ---- the naming rule, and the fallback, without AWS ----------------------------------------------------------------
class _Library:
    """A LibraryFaces port answering one search with the matches given."""

    keeps_library_faces = True

    def __init__(self, matches, truncated=False) -> None:
        self.matches, self.truncated, self.forgotten = matches, truncated, []

    def keep_library_faces(self, content_sha256, picture):
        return True, 1

    def library_matches(self, picture):
        return self.matches, self.truncated, 1

    def forget_library_faces(self, face_ids):
        self.forgotten += list(face_ids)
        return len(face_ids)


def _rematcher(index, library):
    from mediaindex.services.indexing import Pipeline
    from mediaindex.services.rematch import Rematcher

    return Rematcher(Settings(analyzer="rekognition"), Pipeline(storage=None, analyzer=None, index=index,
                                                                faces=library), library)


def test_a_library_match_names_a_face_unless_a_surer_match_names_it_already():
    from mediaindex.domain.model import Box
    from mediaindex.ports import LibraryMatch
    from tests.fakes import FakeIndex

    sha, gone = "a" * 64, "b" * 64
    faces = [{"box": dict(b), "confidence": 99.9, "person": person, "face_id": person and "f", "similarity": sim}
             for b, (person, sim) in zip(BOXES, [(None, None), ("Grace", 99.0), ("Grace", 90.0), (PERSON, 99.9)])]
    index = FakeIndex()
    index.put({**docs.base_document(BUCKET, "photos/x.jpg", None), "status": docs.INDEXED, "error": None,
               "media_type": "image", "content_sha256": sha, "people": ["Ada Lovelace", "Grace"], "faces": faces,
               "face_count": 4, "model_versions": {docs.LIBRARY_FACES: "1"}}, None)
    box = lambda b: Box(b["left"] + 0.01, b["top"], b["width"], b["height"])  # noqa: E731 - Rekognition's own box
    library = _Library([LibraryMatch(sha, box(b), 98.5, f"lib-{i}") for i, b in enumerate(BOXES)]
                       + [LibraryMatch(gone, box(BOXES[0]), 99.0, "lib-gone")])
    report = _rematcher(index, library).name_matching_faces(PERSON, "enrolled-1", None)

    doc = index.get(docs.document_id(BUCKET, "photos/x.jpg")).doc
    assert [(f["person"], f["similarity"]) for f in doc["faces"]] == [
        (PERSON, 98.5),  # nobody: named
        ("Grace", 99.0),  # a surer match: kept
        (PERSON, 98.5),  # a weaker match: the new person's
        (PERSON, 99.9),  # the same person, surer already: kept
    ]
    assert doc["people"] == [PERSON, "Grace"] and doc["faces"][0]["face_id"] == "enrolled-1"
    assert (report.api_calls, report.documents_updated) == (1, 1)
    assert library.forgotten == ["lib-gone"]  # a picture no longer indexed: its face leaves the collection


def test_a_library_search_that_fills_its_limit_falls_back_to_the_walk():
    from tests.fakes import FakeIndex

    assert _rematcher(FakeIndex(), _Library([], truncated=True)).name_matching_faces(PERSON, "f", None) is None
