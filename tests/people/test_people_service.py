"""The People use cases without models: synthetic face vectors on tiny pictures, the real SQLite index, folder
storage. Enrolment keys, the S3 enrolment event path on the local collection, re-matching under a concurrent write."""

from __future__ import annotations

import pytest

from mediaindex.adapters.faces.local import LocalFaceCollection
from mediaindex.adapters.storage.folder import ref_for
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.errors import ConfigurationError, VersionConflict
from mediaindex.domain.messages import CREATED, REMOVED, StorageEvent
from mediaindex.domain.model import Analysis, Box, Face
from mediaindex.services import people as people_module
from mediaindex.services.people import People, person_from_key
from tests.people.synthetic import (
    ADA, BOB, ColourAnalyzer, index_folder, local_people, png, sqlite_index, write_colour_library,
)
from tests.people.vectors import photo_of


@pytest.fixture
def setup(tmp_path):
    media = write_colour_library(tmp_path)
    settings = Settings(home=tmp_path, features=("faces", "people"), people_prefix=str(tmp_path / "people") + "/")
    people = local_people(settings, sqlite_index(tmp_path))
    index_folder(people.pipeline, media)
    yield people, media, tmp_path
    people.faces.close()


def people_of(people: People, path) -> list[str]:
    return people.pipeline.index.get(docs.document_id("", str(path))).doc["people"]


@pytest.mark.parametrize("key, name", [
    ("people/Barack Obama/1.jpg", "Barack Obama"),
    ("people/Barack%20Obama/2.jpg", "Barack Obama"),
    ("people/Zoë  O'Brien/a/b.png", "Zoë O'Brien"),
    ("people/lonely.jpg", None),
    ("people/Ada/", None),
    ("photos/Ada/1.jpg", None),
])
def test_the_person_is_the_folder_after_the_prefix(key, name):
    assert person_from_key(key, "people/") == name


def test_enrolment_event_enrols_rematches_and_removal_forgets(setup):
    people, media, home = setup
    folder = home / "people" / "Ada Lovelace"
    folder.mkdir(parents=True)
    photo = folder / "portrait.png"
    photo.write_bytes(png((250, 250, 0)))
    outcome = people.handle_enrolment_event(StorageEvent(CREATED, ref_for(photo)))
    assert (outcome.action, outcome.faces) == (people_module.ENROLLED, 1)
    assert people.list_people() == {"Ada Lovelace": 1}
    assert people_of(people, media / "0.png") == ["Ada Lovelace"] and people_of(people, media / "1.png") == []
    assert people_of(people, media / "2.png") == ["Ada Lovelace"]

    # the same event again changes nothing; the file's removal while it still exists is stale
    assert people.handle_enrolment_event(StorageEvent(CREATED, ref_for(photo))).action == people_module.ENROLLED
    assert people.list_people() == {"Ada Lovelace": 1}
    assert people.handle_enrolment_event(StorageEvent(REMOVED, ref_for(photo))).action == "stale"

    photo.unlink()
    outcome = people.handle_enrolment_event(StorageEvent(REMOVED, ref_for(photo)))
    assert (outcome.action, outcome.faces) == (people_module.FORGOTTEN, 1)
    assert people.list_people() == {}
    assert all(people_of(people, p) == [] for p in media.iterdir())


def test_enrolment_photos_that_cannot_enrol_say_why(setup):
    people, media, home = setup
    folder = home / "people" / "Nobody"
    folder.mkdir(parents=True)
    (folder / "blank.png").write_bytes(png((9, 9, 9)))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    blank = people.handle_enrolment_event(StorageEvent(CREATED, ref_for(folder / "blank.png")))
    broken = people.handle_enrolment_event(StorageEvent(CREATED, ref_for(folder / "broken.jpg")))
    assert blank.action == broken.action == "failed"
    assert "no face" in blank.reason and broken.reason.startswith("corrupt")
    gone = people.handle_enrolment_event(StorageEvent(CREATED, ref_for(folder / "never.jpg")))
    loose = people.handle_enrolment_event(StorageEvent(CREATED, ref_for(home / "people" / "x.jpg")))
    assert (gone.action, loose.action) == ("gone", people_module.IGNORED)
    assert people.list_people() == {}


def test_rematch_retries_when_someone_writes_the_document_meanwhile(setup, monkeypatch):
    people, media, _ = setup
    index = people.pipeline.index
    real_update = index.update_fields
    conflicts = {"left": 2}

    def flaky_update(doc_id, fields, expected_version):
        if conflicts["left"]:
            conflicts["left"] -= 1
            raise VersionConflict(doc_id)
        return real_update(doc_id, fields, expected_version)

    monkeypatch.setattr(index, "update_fields", flaky_update)
    people.faces.enroll_embeddings("Bob", [photo_of(BOB, 9)], "bob.png")
    report = people.rematch()
    assert conflicts["left"] == 0 and report.documents_updated == 2
    assert people_of(people, media / "1.png") == ["Bob"] and people_of(people, media / "2.png") == ["Bob"]


def test_an_update_never_overwrites_a_newer_document(setup):
    people, media, _ = setup
    index = people.pipeline.index
    doc_id = docs.document_id("", str(media / "0.png"))
    stale = index.get(doc_id)
    index.update_fields(doc_id, {"people": ["Someone"]}, stale.version)
    with pytest.raises(VersionConflict):
        index.update_fields(doc_id, {"people": []}, stale.version)


def test_search_and_clusters_need_the_remembered_vectors(setup):
    people, media, _ = setup

    class NoMemory:  # Rekognition's collection keeps no vectors of indexed faces
        def is_empty(self):
            return True

    blind = People(settings=people.settings, pipeline=people.pipeline, faces=NoMemory())
    with pytest.raises(ConfigurationError, match="local face collection"):
        blind.clusters()
    with pytest.raises(ConfigurationError, match="local face collection"):
        blind.name_cluster("c1", "Ada")
    with pytest.raises(ConfigurationError, match="local face collection"):
        blind.search_by_face(None)
    with pytest.raises(ConfigurationError, match="cluster"):
        people.name_cluster("c999", "Ada")
    with pytest.raises(ConfigurationError, match="not a cluster id"):
        people.name_cluster("banana", "Ada")


def test_a_forgotten_person_leaves_a_videos_faces_people_and_timeline(setup):
    people, _, _ = setup
    collection, index = people.faces, people.pipeline.index
    collection.enroll_embeddings("Ada", [photo_of(ADA, 7)], "ada.png")
    collection.enroll_embeddings("Bob", [photo_of(BOB, 7)], "bob.png")
    faces = [Face(Box(0.1, 0.1, 0.2, 0.2), 99.0, embedding=photo_of(ADA, 8)),
             Face(Box(0.6, 0.1, 0.2, 0.2), 99.0, embedding=photo_of(BOB, 8))]
    collection.remember("video-sha", faces)  # as the video indexer does, in the document's order
    doc = {**docs.base_document("", "/clips/party.mp4", None), "status": docs.INDEXED, "media_type": "video",
           "content_sha256": "video-sha", "people": ["Ada", "Bob"], "face_count": 2,
           "faces": [{"box": f.box.__dict__, "confidence": 99.0, "person": p, "face_id": "x", "similarity": 90.0}
                     for f, p in zip(faces, ("Ada", "Bob"))],
           "video": {"duration": 12.0, "segments": {"people": [{"name": "Ada", "start": 0.0, "end": 6.0},
                                                               {"name": "Bob", "start": 6.0, "end": 12.0}],
                                                    "labels": []}}}
    index.put(doc, None)
    people.remove_person("Ada")
    after = index.get(doc["id"]).doc
    assert after["people"] == ["Bob"] and [f["person"] for f in after["faces"]] == [None, "Bob"]
    assert after["video"]["segments"]["people"] == [{"name": "Bob", "start": 6.0, "end": 12.0}]
    assert after["video"]["duration"] == 12.0


def test_a_person_enrolled_after_a_video_was_indexed_gets_its_timeline_without_analysing_it_again(setup):
    """The video's faces keep when they were seen (segments.faces); the re-match after an enrolment names the
    face and puts that person's spans on the timeline. Nothing reads the video (storage has no such file)."""
    people, _, _ = setup
    collection, index = people.faces, people.pipeline.index
    faces = [Face(Box(0.1, 0.1, 0.2, 0.2), 99.0, embedding=photo_of(ADA, 8)),
             Face(Box(0.6, 0.1, 0.2, 0.2), 99.0, embedding=photo_of(BOB, 8))]
    collection.remember("clip-sha", faces)
    doc = {**docs.base_document("", "/clips/show.mp4", None), "status": docs.INDEXED, "media_type": "video",
           "content_sha256": "clip-sha", "people": [], "face_count": 2,
           "faces": [{"box": f.box.__dict__, "confidence": 99.0, "person": None} for f in faces],
           "video": {"duration": 9.0, "segments": {"people": [], "labels": [], "faces": [
               {"face": 0, "start": 0.0, "end": 3.0}, {"face": 1, "start": 3.0, "end": 6.0},
               {"face": 0, "start": 6.0, "end": 9.0}]}}}
    index.put(doc, None)
    collection.enroll_embeddings("Ada", [photo_of(ADA, 7)], "ada.png")
    people.rematch()
    after = index.get(doc["id"]).doc
    assert after["people"] == ["Ada"]
    assert after["video"]["segments"]["people"] == [{"name": "Ada", "start": 0.0, "end": 3.0},
                                                   {"name": "Ada", "start": 6.0, "end": 9.0}]
    people.remove_person("Ada")
    assert index.get(doc["id"]).doc["video"]["segments"]["people"] == []


def test_an_enrolment_photo_overwritten_with_a_broken_file_takes_its_faces_away(setup):
    people, media, home = setup
    folder = home / "people" / "Ada"
    folder.mkdir(parents=True)
    photo = folder / "1.png"
    photo.write_bytes(png((250, 0, 0)))
    assert people.handle_enrolment_event(StorageEvent(CREATED, ref_for(photo))).action == people_module.ENROLLED
    assert people_of(people, media / "0.png") == ["Ada"]
    photo.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    outcome = people.handle_enrolment_event(StorageEvent(CREATED, ref_for(photo)))
    assert outcome.action == "failed" and people.list_people() == {}
    assert people_of(people, media / "0.png") == []
    photo.write_bytes(png((250, 0, 0)))
    assert people.handle_enrolment_event(StorageEvent(CREATED, ref_for(photo))).action == people_module.ENROLLED
    photo.write_bytes(png((9, 9, 9)))  # readable, but nobody in it: the same
    assert people.handle_enrolment_event(StorageEvent(CREATED, ref_for(photo))).action == "failed"
    assert people.list_people() == {} and people_of(people, media / "0.png") == []


# ---- a face model change -----------------------------------------------------------------------------------------
class SpaceAnalyzer(ColourAnalyzer):
    """The colour analyzer, saying which face model made its vectors."""

    def __init__(self, space: str) -> None:
        super().__init__()
        self.face_model = space

    def analyze(self, picture) -> Analysis:
        analysis = super().analyze(picture)
        for f in analysis.faces:
            f.embedding_space = self.face_model
        analysis.face_model = self.face_model
        return analysis


def test_after_a_face_model_change_enrolments_are_read_again_and_files_analysed_again(tmp_path):
    from mediaindex.domain import face_vectors
    from mediaindex.media.picture import Picture

    media = write_colour_library(tmp_path)
    enrol = tmp_path / "ada.png"
    enrol.write_bytes(png((250, 0, 0)))
    settings = Settings(home=tmp_path, features=("faces", "people"))
    index = sqlite_index(tmp_path)

    def library(space):
        analyzer = SpaceAnalyzer(space.id)
        return local_people(settings, index, analyzer, LocalFaceCollection(settings, space=space)), analyzer

    old, _ = library(face_vectors.DLIB)
    old.enroll("Ada", Picture.from_bytes(enrol.read_bytes()), str(enrol))
    old.collection.enroll_embeddings("Cluster Carol", [photo_of(BOB, 9)], source="cluster:c3")
    for path in sorted(media.iterdir()):
        old.pipeline.handle(StorageEvent(CREATED, ref_for(path)))
    assert people_of(old, media / "0.png") == ["Ada"]
    old.collection.close()

    new, analyzer = library(face_vectors.SFACE)
    assert new.collection.is_empty()
    report = new.re_embed(lambda source: Picture.from_bytes(open(source, "rb").read()))
    assert report.re_embedded == [{"name": "Ada", "source": str(enrol)}]
    assert [c["source"] for c in report.cannot] == ["cluster:c3"] and "cluster" in report.cannot[0]["reason"]
    assert report.remembered_faces_of_other_models > 0  # the indexed files still hold dlib's vectors
    # a file analysed with the old model is analysed again, though its bytes did not change
    stored = index.get(docs.document_id("", str(media / "0.png"))).doc
    same_bytes = StorageEvent(CREATED, ref_for(media / "0.png"), etag=stored["etag"], size=stored["size"])
    assert stored["etag"] and old.pipeline.handle(same_bytes).action == "unchanged"  # the old model: nothing to do
    before = analyzer.calls
    outcome = new.pipeline.handle(same_bytes)
    assert outcome.action == "indexed" and analyzer.calls == before + 1
    doc = new.pipeline.index.get(docs.document_id("", str(media / "0.png"))).doc
    assert doc["face_model"] == face_vectors.SFACE.id and doc["people"] == ["Ada"]
    assert docs.analysed_alike(doc, "colour", face_vectors.SFACE.id)
    assert not docs.analysed_alike({**doc, "face_model": face_vectors.DLIB.id}, "colour", face_vectors.SFACE.id)
    new.collection.close()
