"""`mediaindex analyze`: JSON and text output, embeddings on request, clear errors for files that are not images."""

from __future__ import annotations

import json

import pytest

from mediaindex.entrypoints.cli import main

pytestmark = pytest.mark.models


@pytest.fixture(autouse=True)
def local_settings(monkeypatch, tmp_path):
    for name in ("ANALYZER", "FEATURES", "MODELS_DIR", "MIN_CONFIDENCE", "MAX_LABELS"):
        monkeypatch.delenv(f"MEDIAINDEX_{name}", raising=False)
    monkeypatch.setenv("MEDIAINDEX_HOME", str(tmp_path / "home"))


def test_json_output_without_embeddings(capsys, faces_dir, tmp_path):
    assert main(["analyze", "--json", str(faces_dir / "two_people_obama_biden.jpg")]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["file"].endswith("two_people_obama_biden.jpg")
    assert result["analyzer"] == "local" and result["width"] == 1126
    assert len(result["faces"]) == 2
    assert all("embedding" not in face for face in result["faces"])
    assert any(label["name"] == "Person" for label in result["labels"])
    assert not (tmp_path / "home").exists()  # nothing was indexed: no index file was even created


def test_embeddings_on_request_and_feature_switch(capsys, faces_dir):
    assert main(["analyze", "--json", "--embeddings", "--features", "faces", str(faces_dir / "obama_1.jpg")]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert len(result["faces"][0]["embedding"]) == 128
    assert result["labels"] == []


def test_text_output_and_a_file_that_is_not_an_image(capsys, tmp_path, images_dir):
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("just some text, named like a photo")
    code = main(["analyze", str(images_dir / "n02110185_Siberian_husky.JPEG"), str(not_image),
                 str(tmp_path / "missing.png")])
    out, err = capsys.readouterr()
    assert code == 1  # some files failed, the good one was still analysed
    assert "n02110185_Siberian_husky.JPEG" in out and "Dog" in out and "faces: 0" in out
    assert f"{not_image}: not an image" in err
    assert "missing.png: cannot read the file" in err


def test_json_reports_errors_per_file(capsys, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert main(["analyze", "--json", str(empty)]) == 1
    [result] = json.loads(capsys.readouterr().out)
    assert result["error"]["code"] == "empty_file"


def test_unknown_feature_is_a_configuration_error(capsys, faces_dir):
    assert main(["analyze", "--features", "labels,colours", str(faces_dir / "obama_1.jpg")]) == 2
    assert "unknown ['colours']" in capsys.readouterr().err


def test_an_enrolled_face_is_named_and_a_video_prints_its_timeline(capsys, faces_dir, tmp_path):
    """As `index` would: the known person matched, a video sampled into its timeline; nothing is written."""
    clip = faces_dir.parent / "video" / "short_hamilton_clip.mp4"
    assert main(["people", "add", "Barack Obama", str(faces_dir / "obama_1.jpg")]) == 0
    capsys.readouterr()
    faces_db = sorted((tmp_path / "home").rglob("faces*.db"))

    def contents() -> list:
        # what the collection holds (its file's time may move: closing the last connection checkpoints the log)
        import sqlite3

        out = []
        for path in faces_db:
            with sqlite3.connect(path) as db:
                out += [db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("enrolled", "remembered")]
        return out

    before = contents()
    assert main(["analyze", "--json", str(faces_dir / "obama_2.jpg"), str(clip)]) == 0
    photo, video = json.loads(capsys.readouterr().out)
    assert [f["person"] for f in photo["faces"]] == ["Barack Obama"]
    assert video["file"].endswith(".mp4") and video["video"]["duration"] > 9
    assert {s["name"] for s in video["video"]["segments"]["labels"]} >= {"Person"}
    assert faces_db and contents() == before  # the collection was only read
    assert main(["analyze", str(clip)]) == 0
    text = capsys.readouterr().out
    assert "video 0:09" in text and "labels:" in text and "    Person  0:00-" in text and "4 of 4 sampled" in text
