"""The real local analyzer on the real clip: the timeline, and the two reference people enrolled in the real local
face collection from the analyzer's embeddings of their photos.

What is on screen (looked at frame by frame): 0-0.7 s a wide shot of the stage, Lin-Manuel Miranda singing and
Alex Lacamoire at the piano, bottom left, his face about 27 pixels wide; 0.7-3.4 s Alex Lacamoire in profile,
close up (no frontal detector finds that face); 3.4-7 s Lin-Manuel Miranda close up; from 7 s the audience.
Alex Lacamoire is found at the piano: twice-upsampled HOG finds his face in some frames of the first 0.15 s but
not in the very first, so the frames that follow each sample (follow_frames) are what find him; his track's
mean embedding has similarity about 81.
"""

from __future__ import annotations

import pytest

from mediaindex.adapters.analysis.local import LocalAnalyzer
from mediaindex.adapters.faces.local import LocalFaceCollection
from mediaindex.config import Settings
from mediaindex.media.picture import Picture
from mediaindex.ports import ObjectRef, StoredObject
from mediaindex.services.video import VideoIndexer

pytestmark = pytest.mark.models

THRESHOLD = 80.0
CLIP_SECONDS = 9.176
PEOPLE = {"Lin-Manuel Miranda": "lin_manuel_miranda_1.png", "Alex Lacamoire": "alex_lacamoire_1.png"}


@pytest.fixture(scope="module")
def analyzer() -> LocalAnalyzer:
    local = LocalAnalyzer(Settings())
    local.load()  # once for the module
    return local


@pytest.fixture(scope="module")
def known_people(analyzer, faces_dir, tmp_path_factory) -> LocalFaceCollection:
    """The product's local face collection, with the two reference people enrolled from their photos."""
    collection = LocalFaceCollection(Settings(face_match_threshold=THRESHOLD),
                                     path=tmp_path_factory.mktemp("people") / "faces.db")
    for name, file in PEOPLE.items():
        faces = analyzer.analyze(Picture.from_bytes((faces_dir / file).read_bytes())).faces
        assert len(faces) == 1, f"{file}: one face expected"
        collection.enroll_embeddings(name, [faces[0].embedding], file)
    yield collection
    collection.close()


@pytest.fixture(scope="module")
def indexed(analyzer, known_people, video_path):
    data = video_path.read_bytes()
    indexer = VideoIndexer(analyzer, known_people, interval=1.0)
    return indexer(StoredObject(ObjectRef("media", "hamilton.mp4"), data, len(data)))


def people_spans(fields, name):
    return [(s["start"], s["end"]) for s in fields["video"]["segments"]["people"] if s["name"] == name]


def test_local_analyzer_timeline_of_the_clip(indexed):
    fields, calls = indexed
    video = fields["video"]
    assert (video["frames_sampled"], video["frames_analysed"], video["frames_skipped"]) == (10, 10, 0)
    assert calls == 0  # local models cost no API calls
    assert fields["analyzer"] == "local" and fields["model_versions"]
    assert "person" in fields["label_names"]
    # a performer in a suit with a microphone: people are on screen for most of the clip
    person = [(s["start"], s["end"]) for s in video["segments"]["labels"] if s["name"] == "Person"]
    assert sum(end - start for start, end in person) >= 5.0
    for segment in video["segments"]["labels"] + video["segments"]["people"]:
        assert 0.0 <= segment["start"] < segment["end"] <= CLIP_SECONDS


def test_lin_manuel_miranda_is_found_when_he_is_on_screen(indexed):
    fields, _ = indexed
    assert "Lin-Manuel Miranda" in fields["people"]
    spans = people_spans(fields, "Lin-Manuel Miranda")
    # the close-ups from 2.7 s to 8 s: one segment covers the middle of them
    assert any(start <= 4.0 and end >= 7.0 for start, end in spans), spans
    # never during the shot of Alex Lacamoire in profile (1-2.5 s)
    assert not any(start < 2.5 and end > 1.2 for start, end in spans), spans
    [face] = [f for f in fields["faces"] if f["person"] == "Lin-Manuel Miranda"]
    assert face["similarity"] >= THRESHOLD


def test_alex_lacamoire_is_found_at_the_piano(indexed):
    fields, _ = indexed
    assert "Alex Lacamoire" in fields["people"]
    spans = people_spans(fields, "Alex Lacamoire")
    # at the piano in the opening wide shot (0-0.7 s); from 3.4 s on only Lin-Manuel Miranda and the audience
    assert any(start <= 0.5 < end for start, end in spans), spans
    assert all(start < 3.4 for start, _ in spans), spans
    [face] = [f for f in fields["faces"] if f["person"] == "Alex Lacamoire"]
    assert face["similarity"] >= THRESHOLD
    assert face["box"]["left"] < 0.2 and face["box"]["top"] > 0.4  # the piano, bottom left of the stage
