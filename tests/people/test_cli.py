"""`mediaindex people ...` and `mediaindex faces ...` on a real library (real models, SQLite under --home)."""

from __future__ import annotations

import json

import pytest

from mediaindex import bootstrap
from mediaindex.adapters.storage.folder import FolderStorage, ref_for
from mediaindex.config import Settings
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.entrypoints.cli import main
from tests.people.library import OBAMA_FILES, CountingAnalyzer

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def analyzer():
    from mediaindex.adapters.analysis.local import LocalAnalyzer

    return CountingAnalyzer(LocalAnalyzer(Settings(features=("faces",))))


@pytest.fixture
def home(tmp_path, faces_dir, analyzer, monkeypatch):
    for name in ("INDEX", "INDEX_NAME", "ANALYZER", "FEATURES", "HOME", "FACE_MATCH_THRESHOLD"):
        monkeypatch.delenv(f"MEDIAINDEX_{name}", raising=False)
    monkeypatch.setattr(bootstrap, "build_analyzer", lambda settings, client=None: analyzer)
    pipeline = bootstrap.build_pipeline(Settings(home=tmp_path), storage=FolderStorage(), analyzer=analyzer)
    for path in sorted(faces_dir.iterdir()):
        pipeline.handle(StorageEvent(CREATED, ref_for(path)))
    pipeline.faces.close()
    return tmp_path


def run(capsys, *argv) -> tuple[int, dict]:
    status = main(list(argv))
    out = capsys.readouterr().out
    return status, (json.loads(out) if "--json" in argv else out)


def test_people_add_list_remove(home, faces_dir, capsys):
    status, added = run(capsys, "people", "add", "Barack Obama", str(faces_dir / "obama_1.jpg"),
                        str(faces_dir / "no_such.jpg"), "--home", str(home), "--json")
    assert status == 1  # one of the two images was not there
    ok, missing = added["results"]
    assert added["documents_updated"] == len(OBAMA_FILES) and len(ok["face_ids"]) == 1
    assert added["enrolled"] == 1 and added["failed"] == 1 and ok["name"] == "Barack Obama"
    assert "no such file" in missing["error"]
    listed = {"people": [{"name": "Barack Obama", "faces": 1, "files": len(OBAMA_FILES)}]}  # the files: as stats counts
    assert run(capsys, "people", "list", "--home", str(home), "--json") == (0, listed)
    # the same photo again replaces its face instead of adding a copy
    assert run(capsys, "people", "add", "Barack Obama", str(faces_dir / "obama_1.jpg"), "--home", str(home), "--json")[0] == 0
    assert run(capsys, "people", "list", "--home", str(home), "--json")[1] == listed
    status, text = run(capsys, "people", "list", "--home", str(home))
    assert f"Barack Obama\t1 enrolled face, in {len(OBAMA_FILES)} indexed files" in text
    stats = run(capsys, "stats", "--home", str(home))[1]
    assert f"people (files they are in): Barack Obama ({len(OBAMA_FILES)})" in stats
    status, removed = run(capsys, "people", "remove", "Barack Obama", "--home", str(home), "--json")
    assert status == 0 and removed["faces_removed"] == 1 and removed["documents_updated"] == len(OBAMA_FILES)
    assert run(capsys, "people", "list", "--home", str(home), "--json")[1] == {"people": []}
    assert run(capsys, "people", "remove", "Nobody", "--home", str(home), "--json")[0] == 1


def test_people_add_from_a_folder_enrols_everyone_in_one_run(home, faces_dir, tmp_path, capsys):
    """face_recognition's convention: a sub-folder per person, or an image per person named after them."""
    known = tmp_path / "known"
    (known / "Barack Obama").mkdir(parents=True)
    (known / "Barack Obama" / "a.jpg").symlink_to(faces_dir / "obama_1.jpg")
    (known / "Barack Obama" / "notes.txt").write_text("not a photo")
    (known / "Joe Biden.jpg").symlink_to(faces_dir / "biden_1.jpg")
    (known / "Nobody.png").write_bytes(b"\x89PNG broken")
    status, report = run(capsys, "people", "add", "--from", str(known), "--home", str(home), "--json")
    assert status == 1 and report["enrolled"] == 2 and report["failed"] == 1
    assert {r["name"] for r in report["results"] if "error" not in r} == {"Barack Obama", "Joe Biden"}
    assert report["documents_updated"] >= len(OBAMA_FILES)  # one re-match for everyone, at the end
    listed = run(capsys, "people", "list", "--home", str(home), "--json")[1]["people"]
    assert {p["name"] for p in listed} == {"Barack Obama", "Joe Biden"}
    assert main(["people", "add", "Ada", str(faces_dir / "obama_1.jpg"), "--from", str(known), "--home", str(home)]) == 2


def test_faces_compare_and_search(home, faces_dir, capsys):
    status, result = run(capsys, "faces", "compare", str(faces_dir / "two_people_obama_biden.jpg"),
                         str(faces_dir / "biden_1.jpg"), "--home", str(home), "--json")
    assert status == 0 and len(result["pairs"]) == 2 and result["best"]["same_person"]
    assert result["faces_a"][result["best"]["a"]]["left"] > 0.5  # Biden is the right-hand face
    status, text = run(capsys, "faces", "compare", str(faces_dir / "guido_van_rossum_1.jpg"),
                       str(faces_dir / "guido_van_rossum_2.jpg"), "--home", str(home))
    assert status == 0 and "same person" in text
    status, found = run(capsys, "faces", "search", str(faces_dir / "steve_wozniak_2.jpg"), "--home", str(home), "--json")
    assert {h["key"].rsplit("/", 1)[-1] for h in found["hits"]} == {"steve_wozniak_1.jpg", "steve_wozniak_2.jpg"}
    # faces are numbered from 1 in text, as `show` and the gallery; --all-faces says which face each hit matched
    status, text = run(capsys, "faces", "compare", str(faces_dir / "two_people_obama_biden.jpg"),
                       str(faces_dir / "biden_1.jpg"), "--home", str(home))
    assert f"best pair: face {result['best']['a'] + 1} of A and face 1 of B" in text and "face 0" not in text
    status, found = run(capsys, "faces", "search", str(faces_dir / "two_people_obama_biden.jpg"), "--all-faces",
                        "--home", str(home), "--json")
    by_query = {h["query_face"] for h in found["hits"]}
    assert by_query == {0, 1}  # hits for Obama's face and for Biden's
    status, text = run(capsys, "faces", "search", str(faces_dir / "two_people_obama_biden.jpg"), "--all-faces",
                       "--home", str(home))
    lines = text.splitlines()
    assert lines[0].startswith("face 1 of two_people_obama_biden.jpg: ") and lines[1].startswith("face 2 of ")
    biden = next(line for line in lines if "biden_1.jpg" in line)
    biden_face = next(h for h in found["hits"] if h["key"].endswith("biden_1.jpg"))["query_face"] + 1
    assert f"(face {biden_face} of two_people_obama_biden.jpg ~ face 1)" in biden and "face 0" not in text


def test_clusters_and_naming_one(home, capsys):
    status, listing = run(capsys, "people", "clusters", "--home", str(home), "--json")
    guido = next(c for c in listing["clusters"] if any("guido" in f["key"] for f in c["files"]))
    assert len(guido["files"]) == 2
    status, named = run(capsys, "people", "name-cluster", guido["cluster"], "Guido van Rossum", "--home", str(home), "--json")
    assert status == 0 and named["documents_updated"] == 2
    status, text = run(capsys, "people", "clusters", "--home", str(home))
    assert guido["cluster"] not in text.split() and "obama" in text
    status, text = run(capsys, "people", "name-cluster", guido["cluster"], "Again", "--home", str(home))
    assert status == 2  # that cluster is named now: a clear configuration error


def test_help_has_examples(capsys):
    for argv in (["people", "--help"], ["faces", "--help"], ["people", "name-cluster", "--help"], ["faces", "search", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0 and "example" in capsys.readouterr().out


def test_index_after_a_face_model_change_enrols_again_and_analyses_again(tmp_path, faces_dir, capsys, monkeypatch):
    """A library whose people were enrolled with dlib's vectors: `index` reads the enrolment photo again with SFace
    first, says what it cannot, and the files it indexes are named with the new vectors."""
    import numpy as np

    from mediaindex.adapters.faces.local import LocalFaceCollection
    from mediaindex.domain import face_vectors

    for name in ("INDEX", "INDEX_NAME", "ANALYZER", "FEATURES", "HOME", "FACE_MATCH_THRESHOLD", "MODELS_DIR"):
        monkeypatch.delenv(f"MEDIAINDEX_{name}", raising=False)
    old = LocalFaceCollection(Settings(home=tmp_path), space=face_vectors.DLIB)
    vector = list(np.random.default_rng(1).normal(size=128))
    old.enroll_embeddings("Barack Obama", [vector], source=str(faces_dir / "obama_1.jpg"))
    old.enroll_embeddings("Gone Person", [vector], source=str(tmp_path / "deleted.jpg"))
    old.close()
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("obama_2.jpg", "biden_1.jpg"):
        (photos / name).symlink_to(faces_dir / name)
    status, result = run(capsys, "index", str(photos), "--home", str(tmp_path), "--workers", "1", "--json")
    assert status == 0
    report = result["re_embedded_enrolments"]
    assert report["re_embedded"] == [{"name": "Barack Obama", "source": str(faces_dir / "obama_1.jpg")}]
    assert [c["name"] for c in report["cannot"]] == ["Gone Person"] and "people add" in report["cannot"][0]["reason"]
    found = run(capsys, "search", "--person", "Barack Obama", "--home", str(tmp_path), "--json")[1]
    assert [h["key"].rsplit("/", 1)[-1] for h in found["hits"]] == ["obama_2.jpg"]
    assert found["hits"][0]["face_model"] == face_vectors.SFACE.id
