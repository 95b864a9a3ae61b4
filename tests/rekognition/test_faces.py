"""RekognitionFaceCollection: one search per face with a crop, the empty-collection shortcut, enrolment round trips."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from PIL import Image

from mediaindex.adapters.analysis.rekognition import RekognitionAnalyzer
from mediaindex.adapters.faces.rekognition import (
    ALLOWED_EXTERNAL_ID,
    DELETE_BATCH,
    FaceNotIndexed,
    RekognitionFaceCollection,
    external_image_id,
    source_hash,
)
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError, TransientError
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.domain.model import Box, Face
from mediaindex.media.encode import REKOGNITION
from mediaindex.ports import ObjectRef
from mediaindex.services.indexing import Pipeline
from tests.fakes import FakeIndex, FakeStorage
from tests.rekognition import responses as R
from tests.rekognition.conftest import mean_difference, picture_of
from tests.rekognition.fake_service import NO_FACE_IN_CROP, THROTTLED, Error, FakeRekognition

OBAMA_SOURCE = "media/people/Barack Obama/obama_1.jpg"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def collection(settings: Settings, fake: FakeRekognition, clock: Clock | None = None) -> RekognitionFaceCollection:
    return RekognitionFaceCollection(settings, client=fake.client, **({"clock": clock} if clock else {}))


def faces_at(*boxes: dict[str, float]) -> list[Face]:
    return [Face(Box(b["Left"], b["Top"], b["Width"], b["Height"]), 99.9) for b in boxes]


def expected_region(image: Image.Image, box: dict[str, float], margin: float = 0.4) -> Image.Image:
    """The part of the photo around a face box, computed here independently of the adapter."""
    w, h = image.size
    left = max(0, int((box["Left"] - margin * box["Width"]) * w))
    top = max(0, int((box["Top"] - margin * box["Height"]) * h))
    right = min(w, int((box["Left"] + (1 + margin) * box["Width"]) * w))
    bottom = min(h, int((box["Top"] + (1 + margin) * box["Height"]) * h))
    return image.crop((left, top, right, bottom))


# ---- identify ----------------------------------------------------------------------------------------------------
def test_every_face_is_searched_with_its_own_crop(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    picture = picture_of(faces_dir / "two_people_obama_biden.jpg")
    obama_id = external_image_id("Barack Obama", OBAMA_SOURCE)
    fake.script("SearchFacesByImage", R.search_no_match(), R.search_match(obama_id, 99.12))
    faces = faces_at(R.TWO_PEOPLE_BOXES["Biden"], R.TWO_PEOPLE_BOXES["Obama"])

    matches, calls = collection(settings, fake).identify(picture, faces)

    assert calls == 2 and fake.operations() == ["SearchFacesByImage", "SearchFacesByImage"]
    assert matches[0] is None
    assert matches[1] is not None and matches[1].person == "Barack Obama" and matches[1].similarity == 99.12
    assert matches[1].face_id == "38271d79-7bc2-5efb-b752-398a8d575b85"
    upright = picture.image
    for call, name in zip(fake.sent("SearchFacesByImage"), ["Biden", "Obama"]):
        assert call["CollectionId"] == "mediaindex-test-faces"
        assert call["MaxFaces"] == 1 and call["FaceMatchThreshold"] == 80.0
        data = call["Image"]["Bytes"]
        assert data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) <= REKOGNITION.max_bytes
        crop = Image.open(io.BytesIO(data)).convert("RGB")
        assert min(crop.size) >= REKOGNITION.min_side
        region = expected_region(upright, R.TWO_PEOPLE_BOXES[name])
        assert crop.width / crop.height == pytest.approx(region.width / region.height, rel=0.03)
        assert mean_difference(crop, region) < 8  # the crop shows this face ...
    crops = [Image.open(io.BytesIO(c["Image"]["Bytes"])).convert("RGB") for c in fake.sent("SearchFacesByImage")]
    assert mean_difference(crops[0], crops[1].resize(crops[0].size)) > 20  # ... and not the other one


def test_a_crop_without_a_face_is_no_match(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    fake.script("SearchFacesByImage", NO_FACE_IN_CROP)
    matches, calls = collection(settings, fake).identify(picture_of(faces_dir / "obama_1.jpg"), faces_at(R.OBAMA_1_BOX))
    assert matches == [None] and calls == 1


def test_a_neighbour_found_in_the_crop_is_no_match(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    # Rekognition searched a face at the crop's edge, not the one in its middle that we asked about.
    edge = {"Width": 0.16, "Height": 0.3, "Left": 0.84, "Top": 0.1}
    fake.script("SearchFacesByImage", R.search_match(external_image_id("Joe Biden", "b"), 97.0, searched_box=edge))
    matches, _ = collection(settings, fake).identify(picture_of(faces_dir / "obama_1.jpg"), faces_at(R.OBAMA_1_BOX))
    assert matches == [None]


def test_small_face_crop_is_enlarged_to_the_minimum(settings: Settings, fake: FakeRekognition, images_dir: Path) -> None:
    fake.script("SearchFacesByImage", R.search_no_match())
    tiny = {"Width": 0.05, "Height": 0.05, "Left": 0.5, "Top": 0.5}  # about 25 pixels of a 500-pixel photo
    collection(settings, fake).identify(picture_of(images_dir / "n04399382_teddy.JPEG"), faces_at(tiny))
    crop = Image.open(io.BytesIO(fake.sent("SearchFacesByImage")[0]["Image"]["Bytes"]))
    assert min(crop.size) >= 80


def test_search_throttled_until_the_end_is_transient(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    fake.script("SearchFacesByImage", *[THROTTLED] * 11)
    with pytest.raises(TransientError):
        collection(settings, fake).identify(picture_of(faces_dir / "obama_1.jpg"), faces_at(R.OBAMA_1_BOX))


def test_search_in_a_missing_collection_says_what_to_do(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    fake.script("SearchFacesByImage", Error("ResourceNotFoundException", "The collection id: x does not exist"))
    with pytest.raises(ConfigurationError, match="MEDIAINDEX_COLLECTION"):
        collection(settings, fake).identify(picture_of(faces_dir / "obama_1.jpg"), faces_at(R.OBAMA_1_BOX))


# ---- is_empty ----------------------------------------------------------------------------------------------------
def test_is_empty_is_asked_once_a_minute(settings: Settings, fake: FakeRekognition) -> None:
    clock = Clock()
    fake.add_collection(settings.collection_id)
    faces = collection(settings, fake, clock)
    assert faces.is_empty() and faces.is_empty()
    assert fake.operations() == ["DescribeCollection"]
    fake.collections[settings.collection_id]["f1"] = {"FaceId": "f1"}  # enrolled elsewhere (another Lambda)
    clock.now += 59
    assert faces.is_empty()
    clock.now += 2
    assert not faces.is_empty()
    assert fake.operations() == ["DescribeCollection", "DescribeCollection"]


def test_missing_collection_is_empty_and_logged(settings: Settings, fake: FakeRekognition, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert collection(settings, fake).is_empty()
    assert "does not exist" in caplog.text


def test_no_search_while_the_collection_is_empty(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    """Through the indexing use case: an empty collection costs one DescribeCollection, not a search per face."""
    fake.add_collection(settings.collection_id)
    storage = FakeStorage()
    storage.write("two.jpg", (faces_dir / "two_people_obama_biden.jpg").read_bytes())
    storage.write("obama.jpg", (faces_dir / "obama_1.jpg").read_bytes())
    people = collection(settings, fake)
    pipeline = Pipeline(storage=storage, analyzer=RekognitionAnalyzer(settings, client=fake.client), index=FakeIndex(), faces=people)
    fake.script("DetectLabels", R.HUSKY_LABELS, R.HUSKY_LABELS)
    fake.script("DetectFaces", R.TWO_PEOPLE_FACES, R.OBAMA_1_FACES)

    outcomes = [pipeline.handle(StorageEvent(CREATED, ObjectRef("media", key))) for key in ("two.jpg", "obama.jpg")]

    assert [o.action for o in outcomes] == ["indexed", "indexed"]
    assert [o.api_calls for o in outcomes] == [2, 2]
    assert "SearchFacesByImage" not in fake.operations()
    assert fake.operations().count("DescribeCollection") == 1  # cached between the files

    # once someone is enrolled, the next file's faces are searched
    people.enroll("Barack Obama", picture_of(faces_dir / "obama_2.jpg"), "media/people/Barack Obama/obama_2.jpg")
    storage.write("again.jpg", (faces_dir / "obama_3.jpg").read_bytes())
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.OBAMA_1_FACES)
    obama_id = external_image_id("Barack Obama", "media/people/Barack Obama/obama_2.jpg")
    fake.script("SearchFacesByImage", R.search_match(obama_id, 98.4))
    outcome = pipeline.handle(StorageEvent(CREATED, ObjectRef("media", "again.jpg")))
    assert outcome.api_calls == 3
    assert pipeline.index.live()["again.jpg"]["people"] == ["Barack Obama"]


# ---- enrolment ---------------------------------------------------------------------------------------------------
def test_enrolment_round_trip(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    people = collection(settings, fake)
    assert people.list_people() == {}  # no collection yet: nobody
    sources = {
        "obama_1": "s3://media/people/Barack Obama/obama_1.jpg",
        "obama_2": "s3://media/people/Barack Obama/obama_2.jpg",
        "biden_1": "s3://media/people/Joe Biden/biden_1.jpg",
        "zoe": "/home/zoë/Bilder/Zoë Ørsted-Łukasiewicz.png",
    }
    ids = people.enroll("Barack Obama", picture_of(faces_dir / "obama_1.jpg"), sources["obama_1"])
    people.enroll("Barack Obama", picture_of(faces_dir / "obama_2.jpg"), sources["obama_2"])
    people.enroll("Joe Biden", picture_of(faces_dir / "biden_1.jpg"), sources["biden_1"])
    people.enroll("Zoë  Ørsted-Łukasiewicz", picture_of(faces_dir / "rgba_32bit.png"), sources["zoe"])

    assert fake.operations()[:3] == ["ListFaces", "DescribeCollection", "CreateCollection"]  # created on first use
    assert len(ids) == 1 and ids[0] in fake.collections[settings.collection_id]
    for call in fake.sent("IndexFaces"):
        assert call["MaxFaces"] == 1 and call["QualityFilter"] == "AUTO"
        assert ALLOWED_EXTERNAL_ID.fullmatch(call["ExternalImageId"]) and len(call["ExternalImageId"]) <= 255
        assert len(call["Image"]["Bytes"]) <= REKOGNITION.max_bytes
    stored = [f["ExternalImageId"] for f in fake.collections[settings.collection_id].values()]
    assert people.name_of(stored[0]) in {"Barack Obama", "Joe Biden", "Zoë Ørsted-Łukasiewicz"}
    assert people.list_people() == {"Barack Obama": 2, "Joe Biden": 1, "Zoë Ørsted-Łukasiewicz": 1}

    # deleting one enrolment photo removes the faces it enrolled, and only those
    assert people.remove_source(sources["obama_2"]) == 1
    assert people.remove_source(sources["obama_2"]) == 0
    assert people.list_people() == {"Barack Obama": 1, "Joe Biden": 1, "Zoë Ørsted-Łukasiewicz": 1}
    assert people.remove_person("Zoë Ørsted-Łukasiewicz") == 1
    assert people.remove_person("Barack Obama") == 1
    assert people.list_people() == {"Joe Biden": 1}
    remaining = list(fake.collections[settings.collection_id].values())
    assert [f["ExternalImageId"].endswith(source_hash(sources["biden_1"])) for f in remaining] == [True]


def test_removal_pages_through_the_collection_and_deletes_in_batches(settings: Settings, fake: FakeRekognition) -> None:
    fake.add_collection(settings.collection_id)
    faces = fake.collections[settings.collection_id]
    for i in range(5000):
        faces[f"{i:08d}-face"] = {"FaceId": f"{i:08d}-face", "ExternalImageId": external_image_id("Ada Lovelace", f"ada/{i % 7}.jpg")}
    for i in range(3):
        faces[f"x{i}"] = {"FaceId": f"x{i}", "ExternalImageId": external_image_id("Charles Babbage", "cb.jpg")}
    faces["foreign"] = {"FaceId": "foreign", "ExternalImageId": "enrolled-by-another-tool"}
    fake.page_size = 1000
    people = collection(settings, fake)

    assert people.list_people() == {"Ada Lovelace": 5000, "Charles Babbage": 3, "enrolled-by-another-tool": 1}
    assert fake.operations().count("ListFaces") == 6  # 5004 faces, 1000 a page

    assert people.remove_person("Ada Lovelace") == 5000
    batches = [len(call["FaceIds"]) for call in fake.sent("DeleteFaces")]
    assert batches == [DELETE_BATCH, 5000 - DELETE_BATCH]
    assert people.list_people() == {"Charles Babbage": 3, "enrolled-by-another-tool": 1}


def test_a_face_too_poor_to_keep_is_bad_media(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    fake.add_collection(settings.collection_id)
    fake.script("IndexFaces", {
        "FaceRecords": [], "FaceModelVersion": "7.0",
        "UnindexedFaces": [{"Reasons": ["LOW_SHARPNESS", "SMALL_BOUNDING_BOX"], "FaceDetail": {
            "BoundingBox": {"Width": 0.05, "Height": 0.06, "Left": 0.4, "Top": 0.3}, "Confidence": 91.0}}],
    })
    with pytest.raises(FaceNotIndexed, match="low sharpness, small bounding box"):
        collection(settings, fake).enroll("Ada", picture_of(faces_dir / "obama_partial_face.jpg"), "ada.jpg")


def test_a_photo_without_a_face_enrols_nothing(settings: Settings, fake: FakeRekognition, images_dir: Path) -> None:
    fake.add_collection(settings.collection_id)
    fake.script("IndexFaces", {"FaceRecords": [], "UnindexedFaces": [], "FaceModelVersion": "7.0"})
    assert collection(settings, fake).enroll("Ada", picture_of(images_dir / "n02793495_barn.JPEG"), "barn.jpg") == []


def test_enrolment_sends_the_photo_upright(settings: Settings, fake: FakeRekognition, synthetic: dict, faces_dir: Path) -> None:
    from mediaindex.media.picture import Picture

    collection(settings, fake).enroll("Barack Obama", Picture.from_bytes(synthetic["exif_rotated"]()), "rotated.jpg")
    sent = Image.open(io.BytesIO(fake.sent("IndexFaces")[0]["Image"]["Bytes"]))
    assert sent.size == Image.open(faces_dir / "obama_1.jpg").size


def test_access_denied_on_the_collection_says_what_to_do(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    fake.script("DescribeCollection", Error("AccessDeniedException", "not authorized to perform rekognition:DescribeCollection"))
    with pytest.raises(ConfigurationError, match="mediaindex-test-faces"):
        collection(settings, fake).enroll("Ada", picture_of(faces_dir / "obama_1.jpg"), "ada.jpg")


def test_a_refused_crop_does_not_fail_the_file(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    obama_id = external_image_id("Barack Obama", OBAMA_SOURCE)
    fake.script("SearchFacesByImage", Error("InvalidImageFormatException", "Request has invalid image format"),
                R.search_match(obama_id, 99.0))
    faces = faces_at(R.TWO_PEOPLE_BOXES["Biden"], R.TWO_PEOPLE_BOXES["Obama"])
    matches, calls = collection(settings, fake).identify(picture_of(faces_dir / "two_people_obama_biden.jpg"), faces)
    assert matches[0] is None and matches[1] is not None and matches[1].person == "Barack Obama" and calls == 2


def test_compare_two_pictures_face_by_face(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    """`mediaindex faces compare` on Rekognition: the people service compares through this collection's client."""
    from mediaindex.bootstrap import build_people

    a, b = picture_of(faces_dir / "two_people_obama_biden.jpg"), picture_of(faces_dir / "obama_1.jpg")
    target_face = {"BoundingBox": R.OBAMA_1_BOX, "Confidence": 99.99}
    fake.script("DetectFaces", R.TWO_PEOPLE_FACES)
    fake.script(
        "CompareFaces",
        {"SourceImageFace": {"BoundingBox": {"Width": 0.55, "Height": 0.58, "Left": 0.22, "Top": 0.18}, "Confidence": 99.9},
         "FaceMatches": [{"Similarity": 2.71, "Face": target_face}], "UnmatchedFaces": []},
        {"SourceImageFace": {"BoundingBox": {"Width": 0.55, "Height": 0.58, "Left": 0.22, "Top": 0.18}, "Confidence": 99.9},
         "FaceMatches": [{"Similarity": 99.63, "Face": target_face}], "UnmatchedFaces": []},
    )
    pipeline = Pipeline(storage=FakeStorage(), analyzer=RekognitionAnalyzer(settings, client=fake.client), index=FakeIndex(),
                        faces=collection(settings, fake))

    result = build_people(settings, pipeline).compare(a, b)

    assert fake.operations() == ["DetectFaces", "CompareFaces", "CompareFaces"]
    assert len(result["faces_a"]) == 2 and len(result["faces_b"]) == 1
    assert result["best"] == {"a": 1, "b": 0, "similarity": 99.63, "same_person": True}  # Obama, the second face of a
    assert [p["similarity"] for p in result["pairs"]] == [99.63, 2.71]
    for call in fake.sent("CompareFaces"):
        assert call["TargetImage"]["Bytes"] == b.data and call["SimilarityThreshold"] == 0.0
        source = Image.open(io.BytesIO(call["SourceImage"]["Bytes"]))
        assert source.width < a.width / 2  # a crop of one face, not the whole group photo


def test_a_collection_id_rekognition_would_refuse_is_a_configuration_error(settings: Settings, fake: FakeRekognition) -> None:
    import dataclasses

    with pytest.raises(ConfigurationError, match="MEDIAINDEX_COLLECTION"):
        collection(dataclasses.replace(settings, collection_id="known people"), fake)


def test_listing_with_a_refused_parameter_is_a_configuration_error(settings: Settings, fake: FakeRekognition) -> None:
    fake.script("ListFaces", Error("InvalidParameterException", "1 validation error detected"))
    with pytest.raises(ConfigurationError, match="check MEDIAINDEX_COLLECTION"):
        collection(settings, fake).list_people()
