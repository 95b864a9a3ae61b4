"""The search document's TypedDicts (domain/document.py) say what the pipeline really writes: every field a
document gets is declared, and the parts made from the model's dataclasses (faces, labels, places) have exactly
the declared keys, so a field added to the model without its declaration fails here, not in a reader."""

from __future__ import annotations

import io

from PIL import Image

from mediaindex.domain import document as docs
from mediaindex.domain.model import Box, Emotion, Face, Label, Pose, Quality
from mediaindex.domain.places import Place
from mediaindex.ports import ObjectRef
from mediaindex.services.indexing import CREATED, Pipeline, StorageEvent
from tests.fakes import FakeAnalyzer, FakeFaces, FakeIndex, FakeStorage


# what every document has, a tombstone too (spelt out: Required[] is not seen at run time under postponed annotations)
ALWAYS = {"id", "bucket", "key", "sequencer", "indexed_at", "status", "error"}


def declared(typed: type) -> set[str]:
    return set(typed.__annotations__)


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def test_every_field_of_an_indexed_picture_and_of_a_tombstone_is_declared():
    storage, index = FakeStorage(), FakeIndex()
    storage.write("a.jpg", jpeg())
    pipeline = Pipeline(storage=storage, analyzer=FakeAnalyzer(), index=index, faces=FakeFaces("Ada"))
    assert pipeline.handle(StorageEvent(CREATED, ObjectRef(storage.bucket, "a.jpg"))).action == "indexed"
    doc = index.live()["a.jpg"]
    assert ALWAYS <= set(doc) <= declared(docs.SearchDocument)
    assert set(docs.tombstone("b", "gone.jpg", None)) == ALWAYS


def test_the_analysis_fields_and_the_identity_are_declared_where_they_belong():
    assert set(docs.ANALYSIS_FIELDS) <= docs.DocumentFields.__optional_keys__
    assert set(docs.base_document("b", "k", None)) == declared(docs.DocumentIdentity)


def test_faces_labels_and_places_have_exactly_the_declared_keys():
    face = Face(Box(0.1, 0.2, 0.3, 0.4), 99.0, emotions=[Emotion("HAPPY", 90.0)], pose=Pose(1.0, 2.0, 3.0),
                quality=Quality(50.0, 60.0), embedding=[0.5] * 4, embedding_space="sface", person="Ada")
    # a photo's face has every declared key but `at`, which only a video's face has (the time of its frame)
    assert set(docs.face_to_doc(face)) == declared(docs.FaceDoc) - {"at"}
    assert set(docs.label_to_doc(Label("Dog", 90.0, parents=["Animal"]))) == declared(docs.LabelDoc)
    assert set(Place(city="Paris", country="France", country_code="FR").to_doc()) == declared(docs.PlaceDoc)
