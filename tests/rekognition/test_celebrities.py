"""The `celebrities` feature (issue 29): RecognizeCelebrities on the Rekognition analyzer, answered by the fake
service with responses of the real API's shape (checked against botocore's service model), through to a searchable
document; the local analyzer says plainly it recognises none; video frames keep each name's surest sighting; the
cost estimate counts the call."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mediaindex.adapters.analysis.rekognition import RekognitionAnalyzer
from mediaindex.bootstrap import analyzer_capabilities, build_analyzer, build_app
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.capabilities import NO_LOCAL_CELEBRITIES, REKOGNITION
from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.messages import StorageEvent
from mediaindex.domain.model import Analysis, Box, Celebrity
from mediaindex.domain.query import Query
from mediaindex.domain.query_syntax import parse_query
from mediaindex.domain.video_timeline import Timeline
from mediaindex.ports import ObjectRef
from mediaindex.services.estimate import Estimate, calls_per_image
from tests.rekognition import responses as R
from tests.rekognition.conftest import picture_of
from tests.rekognition.fake_service import FakeRekognition

BEZOS_BOX = {"Width": 0.1871, "Height": 0.2794, "Left": 0.4108, "Top": 0.1745}
# RecognizeCelebrities as the Developer Guide shows it: Urls without a scheme, the face with its details
CELEBRITIES = {
    "CelebrityFaces": [{
        "Urls": ["www.wikidata.org/wiki/Q312556", "www.imdb.com/name/nm1757263"],
        "Name": "Jeff Bezos",
        "Id": "1SK7cR8M",
        "Face": {
            "BoundingBox": BEZOS_BOX, "Confidence": 99.9993,
            "Landmarks": [{"Type": "eyeLeft", "X": 0.4547, "Y": 0.2812}, {"Type": "eyeRight", "X": 0.5312, "Y": 0.2781}],
            "Pose": {"Roll": -1.49, "Yaw": 3.72, "Pitch": 4.13},
            "Quality": {"Brightness": 82.71, "Sharpness": 94.08},
            "Emotions": [{"Type": "HAPPY", "Confidence": 96.5}],
            "Smile": {"Value": True, "Confidence": 97.1},
        },
        "MatchConfidence": 99.99,
        "KnownGender": {"Type": "Male"},
    }, {
        "Urls": [], "Name": "Jeff Bezos", "Id": "1SK7cR8M",  # the same man twice: the surer stays
        "Face": {"BoundingBox": {"Width": 0.05, "Height": 0.07, "Left": 0.8, "Top": 0.6}, "Confidence": 98.1},
        "MatchConfidence": 71.3, "KnownGender": {"Type": "Male"},
    }],
    "UnrecognizedFaces": [{
        "BoundingBox": {"Width": 0.1612, "Height": 0.2493, "Left": 0.1134, "Top": 0.2211}, "Confidence": 99.98,
        "Pose": {"Roll": 2.0, "Yaw": -8.1, "Pitch": 1.2}, "Quality": {"Brightness": 75.4, "Sharpness": 86.9},
    }],
}


@pytest.fixture
def with_celebrities(settings: Settings) -> Settings:
    return settings.with_overrides(features=("labels", "faces", "celebrities"))


def test_recognize_celebrities_is_called_once_and_read_into_the_analysis(with_celebrities, fake, faces_dir):
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.NO_FACES)
    fake.script("RecognizeCelebrities", CELEBRITIES)  # checked against the real output shape

    analysis = RekognitionAnalyzer(with_celebrities, client=fake.client).analyze(
        picture_of(faces_dir / "two_people_obama_biden.jpg"))

    assert fake.operations() == ["DetectLabels", "DetectFaces", "RecognizeCelebrities"]
    assert set(fake.sent("RecognizeCelebrities")[0]) == {"Image"} and analysis.api_calls == 3
    assert analysis.celebrities[0] == Celebrity(
        "Jeff Bezos", 99.99, Box(0.4108, 0.1745, 0.1871, 0.2794), "1SK7cR8M",
        ("https://www.wikidata.org/wiki/Q312556", "https://www.imdb.com/name/nm1757263"), "Male")
    fields = docs.analysis_fields(analysis)
    assert [(c["name"], c["confidence"]) for c in fields["celebrities"]] == [("Jeff Bezos", 99.99)]  # once
    assert fields["people"] == []  # celebrities are not people enrolled here
    assert analysis.model_versions["celebrities"]


def test_without_the_feature_rekognition_is_not_asked(settings, fake, faces_dir):
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.NO_FACES)
    analysis = RekognitionAnalyzer(settings, client=fake.client).analyze(picture_of(faces_dir / "biden_1.jpg"))
    assert "RecognizeCelebrities" not in fake.operations() and analysis.celebrities == []
    assert "celebrities" not in docs.analysis_fields(analysis)


def test_an_indexed_photo_is_found_by_the_celebritys_name(with_celebrities, fake, faces_dir, tmp_path):
    photo = tmp_path / "archive" / "stage.jpg"
    photo.parent.mkdir()
    shutil.copy(faces_dir / "two_people_obama_biden.jpg", photo)
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.NO_FACES)
    fake.script("RecognizeCelebrities", CELEBRITIES)
    app = build_app(with_celebrities.with_overrides(home=tmp_path, features=("labels", "faces", "celebrities")),
                    rekognition=fake.client)

    outcome = app.handle_event(StorageEvent.created(ObjectRef("", str(photo))))

    assert outcome.action == "indexed" and outcome.api_calls == 3
    for text in ('person:"jeff bezos"', "bezos", "person:jeff"):
        hits = app.index.search(Query(where=parse_query(text))).hits
        assert [h["key"] for h in hits] == [str(photo)], text
    assert hits[0]["celebrities"][0]["urls"][0] == "https://www.wikidata.org/wiki/Q312556"


def test_the_local_analyzer_says_it_recognises_no_celebrities(tmp_path):
    asked = Settings(home=tmp_path, analyzer="local", features=("labels", "celebrities"))
    with pytest.raises(ConfigurationError) as refused:
        build_analyzer(asked)
    assert str(refused.value) == NO_LOCAL_CELEBRITIES and "MEDIAINDEX_ANALYZER=rekognition" in str(refused.value)
    local = analyzer_capabilities(Settings(home=tmp_path, analyzer="local"))
    assert local is not None and local.celebrities is False
    assert REKOGNITION.celebrities is True
    assert Settings.from_env({"MEDIAINDEX_FEATURES": "labels,celebrities"}).has("celebrities")


def test_video_frames_keep_each_celebritys_surest_sighting_across_windows():
    def frame(*found: Celebrity) -> Analysis:
        return Analysis("rekognition", celebrities=list(found), api_calls=1)

    first, later = Timeline(interval=6.0, duration=24.0), Timeline(interval=6.0, duration=24.0, start=12.0)
    first.add_analysis(0.0, [], [], frame(Celebrity("Jeff Bezos", 80.0)), b"")
    first.add_analysis(6.0, [], [], frame(Celebrity("Jeff Bezos", 95.0, Box(0.1, 0.1, 0.2, 0.2))), b"")
    first.next_start = 12.0
    later.add_analysis(12.0, [], [], frame(Celebrity("Barack Obama", 90.0), Celebrity("Jeff Bezos", 70.0)), b"")
    later.next_start = 24.0
    merged = Timeline.from_state(first.to_state()).merge(Timeline.from_state(later.to_state()))  # as stored
    fields = merged.to_fields()
    assert [(c["name"], c["confidence"]) for c in fields["celebrities"]] == [("Jeff Bezos", 95.0), ("Barack Obama", 90.0)]
    assert fields["celebrities"][0]["box"] == {"left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}
    assert "celebrities" not in Timeline(interval=6.0, duration=6.0).to_fields()


def test_the_estimate_counts_one_recognize_celebrities_a_picture():
    assert calls_per_image(("labels", "celebrities"), 0) == {"DetectLabels": 1.0, "RecognizeCelebrities": 1.0}
    estimate = Estimate(features=("labels", "celebrities"), faces_per_image=0)
    estimate.by_kind["image"] = 1000
    assert estimate.cost_usd() == {"DetectLabels": 1.0, "RecognizeCelebrities": 1.0}
