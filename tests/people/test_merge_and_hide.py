"""Merging two people and marking "not a face", without models: synthetic face vectors on tiny pictures (the
colour of a picture says who is in it), the real SQLite index and face collection, folder storage; the CLI and the
HTTP API on the same kind of library."""

from __future__ import annotations

import json
import shutil

import pytest

from mediaindex import bootstrap
from mediaindex.adapters.storage.folder import FolderStorage, ref_for
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.domain.model import Box
from mediaindex.entrypoints.cli import main
from mediaindex.services.people import People
from tests.people.synthetic import ADA, BOB, ColourAnalyzer, index_folder, local_people, write_colour_library
from tests.people.test_people_service import people_of, setup  # noqa: F401  (fixture)
from tests.people.vectors import photo_of
from tests.web.helpers import RunningServer, get, post_json


def doc_of(people: People, path) -> dict:
    return people.pipeline.index.get(docs.document_id("", str(path))).doc


# ---- merge ---------------------------------------------------------------------------------------------------------
def test_merge_moves_every_face_and_every_file_follows(setup):
    people, media, _ = setup
    collection = people.faces
    collection.enroll_embeddings("Ada Lovelace", [photo_of(ADA, 7)], "ada.png")
    collection.enroll_embeddings("A. Lovelace", [photo_of(ADA, 8)], "ada-again.png")
    collection.enroll_embeddings("Bob", [photo_of(BOB, 7)], "bob.png")
    people.rematch()
    named = {people_of(people, media / n)[0] for n in ("0.png", "3.png")}
    assert named <= {"Ada Lovelace", "A. Lovelace"}

    result = people.merge_people("a. lovelace", "Ada Lovelace")  # the name in any case, when it names one person
    assert (result["from"], result["into"], result["faces_moved"]) == ("A. Lovelace", "Ada Lovelace", 1)
    assert people.list_people() == {"Ada Lovelace": 2, "Bob": 1}
    assert people_of(people, media / "0.png") == ["Ada Lovelace"]
    assert people_of(people, media / "2.png") == ["Ada Lovelace", "Bob"]
    assert people_of(people, media / "3.png") == ["Ada Lovelace"]
    assert not any("A. Lovelace" in people_of(people, p) for p in media.iterdir())
    assert collection.pending_rematch() is None
    face_ids = {f["face_id"] for n in ("0.png", "3.png") for f in doc_of(people, media / n)["faces"]}
    ada_faces = {r[0] for r in collection.store.db.execute("SELECT face_id FROM enrolled WHERE person = 'Ada Lovelace'")}
    assert face_ids <= ada_faces and len(ada_faces) == 2

    # into a name nobody has yet: a rename
    people.merge_people("Bob", "Robert")
    assert people.list_people() == {"Ada Lovelace": 2, "Robert": 1}
    assert people_of(people, media / "1.png") == ["Robert"]


def test_merge_refuses_what_makes_no_sense(setup):
    people, _, _ = setup
    people.faces.enroll_embeddings("Ada", [photo_of(ADA, 7)], "ada.png")
    with pytest.raises(ConfigurationError, match="nobody called 'Nobody'"):
        people.merge_people("Nobody", "Ada")
    with pytest.raises(ConfigurationError, match="themselves"):
        people.merge_people("ada", "Ada")
    with pytest.raises(ConfigurationError, match="name"):
        people.merge_people("Ada", "   ")

    class RekognitionLike:  # keeps the name inside each face: no merge
        def list_people(self):
            return {"Ada": 1}

    with pytest.raises(ConfigurationError, match="local face collection"):
        People(settings=people.settings, pipeline=people.pipeline, faces=RekognitionLike()).merge_people("Ada", "B")
    assert people.list_people() == {"Ada": 1}


def test_a_merge_interrupted_before_its_rematch_is_finished_by_the_next_command(setup):
    people, media, _ = setup
    collection = people.faces
    collection.enroll_embeddings("Ada", [photo_of(ADA, 7)], "ada.png")
    people.rematch()
    assert collection.merge_people("Ada", "Ada Lovelace") == 1  # the faces move and the note is written, together
    assert collection.pending_rematch()[1] == {"Ada"}
    assert people_of(people, media / "0.png") == ["Ada"]  # a kill here: the documents still say Ada
    people.finish_pending()
    assert people_of(people, media / "0.png") == ["Ada Lovelace"] and collection.pending_rematch() is None


# ---- not a face ----------------------------------------------------------------------------------------------------
def test_a_hidden_face_leaves_the_document_and_stays_hidden_after_a_re_index(setup):
    people, media, _ = setup
    collection, pipeline = people.faces, people.pipeline
    shutil.copyfile(media / "2.png", media / "copy.png")  # the same bytes under another name
    pipeline.handle(StorageEvent(CREATED, ref_for(media / "copy.png")))
    collection.enroll_embeddings("Ada", [photo_of(ADA, 7)], "ada.png")
    collection.enroll_embeddings("Bob", [photo_of(BOB, 7)], "bob.png")
    people.rematch()
    before = doc_of(people, media / "2.png")
    assert before["people"] == ["Ada", "Bob"] and len(before["faces"]) == 2
    sha = before["content_sha256"]
    clustered = sum(len(m) for m in collection.clusters(min_size=1, unnamed_only=False).values())

    result = people.hide_face(before["id"], 0)  # Ada's face, on the left, is "not a face"
    assert result["person"] == "Ada" and result["box"]["left"] == pytest.approx(0.1)
    for name in ("2.png", "copy.png"):
        after = doc_of(people, media / name)
        assert after["people"] == ["Bob"] and after["face_count"] == 1
        assert [f["person"] for f in after["faces"]] == ["Bob"] and after["faces"][0]["box"]["left"] == pytest.approx(0.6)
    # its vector is gone (so from clusters and search), Bob's moved down to face 0
    assert collection.remembered_count(sha) == 1 and collection.matches_for_content(sha)[0].person == "Bob"
    assert sum(len(m) for m in collection.clusters(min_size=1, unnamed_only=False).values()) == clustered - 1
    assert collection.hidden_boxes(sha)[0].left == pytest.approx(0.1)
    assert collection.pending_rematch() is None

    # the file analysed again from scratch: the face is found again and dropped again
    pipeline.reuse_analysis = False
    assert pipeline.handle(StorageEvent(CREATED, ref_for(media / "2.png"))).action == "indexed"
    again = doc_of(people, media / "2.png")
    assert again["people"] == ["Bob"] and again["face_count"] == 1 and again["faces"][0]["person"] == "Bob"
    assert collection.remembered_count(sha) == 1
    # re-matching the library (a new enrolment) never brings it back, nor puts Bob's face in the wrong place
    collection.enroll_embeddings("Ada", [photo_of(ADA, 9)], "ada-2.png")
    people.rematch()
    for name in ("2.png", "copy.png"):
        assert doc_of(people, media / name)["people"] == ["Bob"]
    assert people_of(people, media / "0.png") == ["Ada"]  # her other files still name her


def test_a_hide_interrupted_before_its_rematch_is_finished_by_the_next_command(setup):
    people, media, _ = setup
    collection = people.faces
    doc = doc_of(people, media / "2.png")
    face = doc["faces"][0]["box"]
    collection.hide_face(doc["content_sha256"], 0, Box(**face))  # the mark, the vector and the note, together
    assert collection.pending_rematch() is not None
    assert doc_of(people, media / "2.png")["face_count"] == 2  # a kill here: the document still shows the face
    people.finish_pending()
    assert doc_of(people, media / "2.png")["face_count"] == 1 and collection.pending_rematch() is None


def test_a_document_written_with_a_hidden_face_loses_it_at_the_next_rematch(setup):
    """A copy of the document written while the face was being hidden (another indexer) still shows it: the
    re-match drops it and matches the others in their new places."""
    people, media, _ = setup
    collection, index = people.faces, people.pipeline.index
    collection.enroll_embeddings("Bob", [photo_of(BOB, 7)], "bob.png")
    people.rematch()
    stale = index.get(docs.document_id("", str(media / "2.png")))
    people.hide_face(stale.doc["id"], 0)
    index.put(stale.doc, index.get(stale.doc["id"]).version)  # the old document, both faces, back in the index
    index.refresh()
    assert len(doc_of(people, media / "2.png")["faces"]) == 2
    people.rematch()
    after = doc_of(people, media / "2.png")
    assert after["people"] == ["Bob"] and [f["person"] for f in after["faces"]] == ["Bob"]


def test_hiding_a_video_face_moves_its_timeline_rows_down(setup):
    people, _, _ = setup
    collection, index = people.faces, people.pipeline.index
    from mediaindex.domain.model import Face

    faces = [Face(Box(0.1, 0.1, 0.2, 0.2), 99.0, embedding=photo_of(ADA, 8)),
             Face(Box(0.6, 0.1, 0.2, 0.2), 99.0, embedding=photo_of(BOB, 8))]
    collection.remember("clip-sha", faces)
    collection.enroll_embeddings("Bob", [photo_of(BOB, 7)], "bob.png")
    doc = {**docs.base_document("", "/clips/show.mp4", None), "status": docs.INDEXED, "media_type": "video",
           "content_sha256": "clip-sha", "people": ["Bob"], "face_count": 2,
           "faces": [{"box": f.box.__dict__, "confidence": 99.0, "person": p} for f, p in zip(faces, (None, "Bob"))],
           "video": {"duration": 9.0, "segments": {"people": [{"name": "Bob", "start": 3.0, "end": 6.0}], "labels": [],
                                                   "faces": [{"face": 0, "start": 0.0, "end": 3.0},
                                                             {"face": 1, "start": 3.0, "end": 6.0}]}}}
    index.put(doc, None)
    people.hide_face(doc["id"], 0)
    after = index.get(doc["id"]).doc
    assert after["people"] == ["Bob"] and after["face_count"] == 1
    assert after["video"]["segments"]["faces"] == [{"face": 0, "start": 3.0, "end": 6.0}]
    assert after["video"]["segments"]["people"] == [{"name": "Bob", "start": 3.0, "end": 6.0}]


def test_a_face_is_hidden_even_in_a_document_whose_vectors_were_never_kept(setup):
    people, _, _ = setup
    index = people.pipeline.index
    doc = {**docs.base_document("", "/old/scan.png", None), "status": docs.INDEXED, "media_type": "image",
           "content_sha256": "never-remembered", "people": ["Ada"], "face_count": 2,
           "faces": [{"box": {"left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}, "person": "Ada"},
                     {"box": {"left": 0.6, "top": 0.1, "width": 0.2, "height": 0.2}, "person": None}]}
    index.put(doc, None)
    people.hide_face(doc["id"], 0)
    after = index.get(doc["id"]).doc
    assert after["face_count"] == 1 and after["people"] == [] and after["faces"][0]["box"]["left"] == 0.6


def test_hide_refuses_a_face_that_is_not_there(setup):
    people, media, _ = setup
    doc = doc_of(people, media / "0.png")
    with pytest.raises(ConfigurationError, match="no face 2"):
        people.hide_face(doc["id"], 1)
    assert len(doc_of(people, media / "0.png")["faces"]) == 1


# ---- split a cluster ----------------------------------------------------------------------------------------------
def test_a_split_cluster_stays_apart_when_later_faces_are_clustered(tmp_path):
    from mediaindex.adapters.faces.local import FaceRef, LocalFaceCollection

    # at similarity 60 strangers (about 69 here) are taken for one person: one cluster holds Ada and Bob
    collection = LocalFaceCollection(Settings(home=tmp_path, face_match_threshold=60.0))
    box = Box(0.1, 0.1, 0.3, 0.3)
    collection.import_faces([("a1", 0, box, photo_of(ADA, 1)), ("b1", 0, box, photo_of(BOB, 1)),
                             ("a2", 0, box, photo_of(ADA, 2)), ("b2", 0, box, photo_of(BOB, 2))])
    (only,) = collection.clusters().items()
    cid, members = only
    assert cid == "c1" and len(members) == 4
    bob, ada = collection.split_cluster(1, [FaceRef("b1", 0), FaceRef("b2", 0)])
    assert (bob, ada) == ("c2", "c1")  # each part is named after its oldest face
    groups = {c: sorted(m.ref.content_sha256 for m in ms) for c, ms in collection.clusters().items()}
    assert groups == {"c1": ["a1", "a2"], "c2": ["b1", "b2"]}

    # new faces like both parts (everyone is alike at 60) join one of them, never bridge the two
    collection.import_faces([("a3", 0, box, photo_of(ADA, 3)), ("b3", 0, box, photo_of(BOB, 3))])
    groups = {c: sorted(m.ref.content_sha256 for m in ms) for c, ms in collection.clusters().items()}
    assert len(groups) == 2 and groups["c1"][:2] == ["a1", "a2"] and groups["c2"][:2] == ["b1", "b2"]
    assert sorted(groups["c1"] + groups["c2"]) == ["a1", "a2", "a3", "b1", "b2", "b3"]
    # kept apart in the file: another process's collection sees the same
    again = LocalFaceCollection(Settings(home=tmp_path, face_match_threshold=60.0))
    assert {c: len(m) for c, m in again.clusters().items()} == {c: len(m) for c, m in groups.items()}
    with pytest.raises(ConfigurationError, match="leave at least one"):
        collection.split_cluster(2, [FaceRef(s, 0) for s in groups["c2"]])
    with pytest.raises(ConfigurationError, match="not in c1"):
        collection.split_cluster(1, [FaceRef("b1", 0)])
    collection.close()
    again.close()


# ---- the CLI and the API -------------------------------------------------------------------------------------------
@pytest.fixture
def home(tmp_path, monkeypatch):
    """A library under --home indexed by the colour analyzer, as `mediaindex index` would have made it, with Ada
    enrolled twice (as "Ada" and "Ada L") and Bob once."""
    return make_home(tmp_path, monkeypatch, enrol=True)


@pytest.fixture
def loose_home(tmp_path, monkeypatch):
    """The same library, nobody enrolled, clustered at similarity 60: Ada's and Bob's faces make one cluster."""
    return make_home(tmp_path, monkeypatch, enrol=False, threshold=60.0)


def make_home(tmp_path, monkeypatch, enrol: bool, threshold: float = 80.0):
    for name in ("INDEX", "INDEX_NAME", "ANALYZER", "FEATURES", "HOME", "FACE_MATCH_THRESHOLD"):
        monkeypatch.delenv(f"MEDIAINDEX_{name}", raising=False)
    media = write_colour_library(tmp_path)
    analyzer = ColourAnalyzer()
    monkeypatch.setattr(bootstrap, "build_analyzer", lambda settings, client=None: analyzer)
    settings = Settings(home=tmp_path / "home", features=("faces", "people"), face_match_threshold=threshold)
    pipeline = bootstrap.build_pipeline(settings, storage=FolderStorage(), analyzer=analyzer)
    for path in sorted(media.iterdir()):
        pipeline.handle(StorageEvent(CREATED, ref_for(path)))
    if enrol:
        pipeline.faces.enroll_embeddings("Ada", [photo_of(ADA, 7)], "ada.png")
        pipeline.faces.enroll_embeddings("Ada L", [photo_of(ADA, 8)], "ada2.png")
        pipeline.faces.enroll_embeddings("Bob", [photo_of(BOB, 7)], "bob.png")
        bootstrap.build_people(settings, pipeline).rematch()
    pipeline.faces.close()
    return settings, media, pipeline.index


def run(capsys, *argv):
    status = main(list(argv))
    out = capsys.readouterr().out
    return status, (json.loads(out) if "--json" in argv else out)


def test_cli_people_merge_and_faces_hide(home, capsys):
    settings, media, index = home
    where = ("--home", str(settings.home))
    status, text = run(capsys, "people", "merge", "Ada L", "Ada", *where)
    assert status == 0 and "Ada L is now Ada: 1 face(s) moved" in text
    status, listed = run(capsys, "people", "list", *where, "--json")
    assert [(p["name"], p["faces"]) for p in listed["people"]] == [("Ada", 2), ("Bob", 1)]

    status, hidden = run(capsys, "faces", "hide", str(media / "2.png"), "2", *where, "--json")  # from 1: Bob's
    assert status == 0 and hidden["face_index"] == 1 and hidden["person"] == "Bob"
    doc = index.get(docs.document_id("", str(media / "2.png"))).doc
    assert doc["people"] == ["Ada"] and doc["face_count"] == 1
    assert run(capsys, "search", "--person", "Bob", *where, "--json")[1]["total"] == 1  # 1.png only
    with pytest.raises(SystemExit):
        main(["faces", "hide", str(media / "2.png"), "two", *where])
    capsys.readouterr()
    assert main(["faces", "hide", str(media / "2.png"), "0", *where]) == 2  # numbered from 1: a clear error
    assert "numbered from 1" in capsys.readouterr().err
    assert main(["faces", "hide", str(media / "nope.png"), "1", *where]) == 1

    # undone: the file is analysed again and both faces are back, named
    status, shown_again = run(capsys, "faces", "unhide", str(media / "2.png"), *where, "--json")
    assert status == 0 and shown_again["faces_shown_again"] == 1 and shown_again["files_analysed"] == 1
    doc = index.get(docs.document_id("", str(media / "2.png"))).doc
    assert doc["people"] == ["Ada", "Bob"] and doc["face_count"] == 2
    assert "no face of" in run(capsys, "faces", "unhide", str(media / "2.png"), *where)[1]
    # and the faces are remembered in their places again: a re-match keeps both names on the right faces
    assert run(capsys, "people", "rematch", *where)[0] == 0
    doc = index.get(docs.document_id("", str(media / "2.png"))).doc
    assert [f["person"] for f in doc["faces"]] == ["Ada", "Bob"]


def test_cli_people_split_cluster(loose_home, capsys):
    settings, media, index = loose_home
    where = ("--home", str(settings.home), "--threshold", "60")
    clusters = run(capsys, "people", "clusters", *where, "--json")[1]["clusters"]
    assert len(clusters) == 1 and clusters[0]["faces"] == 5
    status, text = run(capsys, "people", "split-cluster", clusters[0]["cluster"], str(media / "1.png"),
                       f"{media / '2.png'}:2", *where)
    assert status == 0 and "2 face(s) of c1 moved to c2" in text
    after = run(capsys, "people", "clusters", "--min-size", "1", *where, "--json")[1]["clusters"]
    files = {c["cluster"]: sorted((f["key"].rsplit("/", 1)[-1], f["face_index"]) for f in c["files"]) for c in after}
    assert files == {"c1": [("0.png", 0), ("2.png", 0), ("3.png", 0)], "c2": [("1.png", 0), ("2.png", 1)]}
    assert main(["people", "split-cluster", "c1", str(media / "1.png"), *where]) == 2  # not in c1 any more
    err = capsys.readouterr().err
    assert "no face of" in err and "1.png is in c1" in err
    assert main(["people", "split-cluster", "c1", str(media / "nope.png"), *where]) == 1


def test_api_split_cluster(loose_home):
    settings, media, index = loose_home
    from mediaindex.entrypoints.cli.serve import build_local_api

    server = RunningServer(build_local_api(settings, index=index, writes=True))
    try:
        one = docs.document_id("", str(media / "1.png"))
        two = docs.document_id("", str(media / "2.png"))
        reply = post_json(server, "/api/people/clusters/c1/split", {"faces": [{"id": one, "face_index": 0},
                                                                              {"id": two, "face_index": 1}]})
        assert reply.status == 200 and reply.json()["moved_to"] == "c2"
        clusters = {c["cluster"]: c["faces"] for c in get(server, "/api/people?min_size=1").json()["clusters"]}
        assert clusters == {"c1": 3, "c2": 2}
        assert post_json(server, "/api/people/clusters/c1/split", {"faces": []}).status == 400
        assert post_json(server, "/api/people/clusters/c1/split", {"faces": [{"id": one, "face_index": "0"}]}).status == 400
        assert post_json(server, "/api/people/clusters/c1/split", {"faces": [{"id": one, "face_index": 0}]}).status == 400
    finally:
        server.close()


def test_api_merge_and_hide_under_the_write_guard(home):
    settings, media, index = home
    from mediaindex.entrypoints.cli.serve import build_local_api

    read_only = RunningServer(build_local_api(settings, index=index, writes=False))
    writable = RunningServer(build_local_api(settings, index=index, writes=True))
    try:
        doc_id = docs.document_id("", str(media / "2.png"))
        for path, body in (("/api/people/merge", {"from": "Ada L", "into": "Ada"}),
                           (f"/api/documents/{doc_id}/faces/0/hide", {})):
            reply = post_json(read_only, path, body)
            assert reply.status == 403 and "--allow-writes" in reply.json()["error"]
        assert post_json(writable, "/api/people/merge", {"from": "Ada L", "into": "Ada"},
                         Origin="http://evil.example").status == 403

        merged = post_json(writable, "/api/people/merge", {"from": "Ada L", "into": "Ada"})
        assert merged.status == 200 and merged.json()["faces_moved"] == 1
        people = {p["name"]: p["faces"] for p in get(writable, "/api/people").json()["people"]}
        assert people == {"Ada": 2, "Bob": 1}
        assert post_json(writable, "/api/people/merge", {"from": "Nobody", "into": "Ada"}).status == 400
        assert post_json(writable, "/api/people/merge", {"into": "Ada"}).status == 400

        before = get(writable, f"/api/documents/{doc_id}/faces/1")  # Bob's crop, cached
        assert before.status == 200
        hidden = post_json(writable, f"/api/documents/{doc_id}/faces/0/hide", {})
        assert hidden.status == 200 and hidden.json()["person"] == "Ada"
        doc = get(writable, f"/api/documents/{doc_id}").json()
        assert doc["people"] == ["Bob"] and doc["face_count"] == 1
        assert get(writable, f"/api/documents/{doc_id}/faces/0").body == before.body  # Bob's crop, now face 0
        assert post_json(writable, f"/api/documents/{doc_id}/faces/5/hide", {}).status == 404
    finally:
        read_only.close()
        writable.close()


def test_merge_and_hide_on_opensearch(tmp_path, osmem_clone):
    """The same use cases on OpenSearch (osmem-server through opensearch-py): search follows the merge and the
    hidden face, also after the file is analysed again."""
    from mediaindex.domain.expressions import PersonIs
    from mediaindex.domain.query import Query
    from tests.conftest import opensearch_index

    media = write_colour_library(tmp_path)
    settings = Settings(home=tmp_path, features=("faces", "people"))
    people = local_people(settings, opensearch_index(osmem_clone.url, "merge_hide"))
    collection, index, pipeline = people.faces, people.pipeline.index, people.pipeline
    index_folder(pipeline, media)
    collection.enroll_embeddings("Bob", [photo_of(BOB, 7)], "bob.png")
    collection.enroll_embeddings("Robert", [photo_of(BOB, 8)], "robert.png")
    people.rematch()

    people.merge_people("Robert", "Bob")
    assert index.search(Query(PersonIs("Bob"))).total == 2 and index.search(Query(PersonIs("Robert"))).total == 0
    two = docs.document_id("", str(media / "2.png"))
    people.hide_face(two, 1)  # Bob's face in 2.png
    assert [d["key"] for d in index.search(Query(PersonIs("Bob"))).hits] == [str(media / "1.png")]
    pipeline.reuse_analysis = False
    pipeline.handle(StorageEvent(CREATED, ref_for(media / "2.png")))
    index.refresh()
    assert index.get(two).doc["face_count"] == 1 and index.search(Query(PersonIs("Bob"))).total == 1
    collection.close()
