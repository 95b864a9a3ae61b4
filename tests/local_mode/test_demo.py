"""scripts/demo (the README's first command) and the sample pictures it makes when no photos are at hand."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from PIL import Image

from mediaindex import sample_media
from tests.local_mode.conftest import ROOT


def test_sample_pictures_are_real_images_plus_one_failure(tmp_path):
    written = sample_media.make_samples(tmp_path / "samples")
    pictures = [p for p in written if p.suffix != ".txt"]
    assert len(pictures) == 3
    for path in pictures:
        with Image.open(path) as image:
            image.verify()
    assert (tmp_path / "samples" / "notes.txt").read_text().startswith("Not a picture")
    for path, name in sample_media.packaged_samples():  # whatever the installed packages ship
        assert path.is_file() and name


def _stand_ins(faces_dir, images_dir):
    """Real photos in the places of the packaged ones (the packages are installed by the demo only)."""
    return [(faces_dir / "obama_1.jpg", sample_media.PORTRAIT), (images_dir / "n02110185_Siberian_husky.JPEG", "cat_chelsea.png"),
            (images_dir / "n07747607_orange.JPEG", "coffee.png")]


def test_the_packaged_photos_are_copied_with_a_second_picture_of_the_portrait(tmp_path, faces_dir, images_dir):
    written = sample_media.fill(tmp_path / "samples", packaged=_stand_ins(faces_dir, images_dir))
    names = [p.name for p in written]
    assert names == [sample_media.PORTRAIT, "cat_chelsea.png", "coffee.png", sample_media.SECOND_PICTURE, "notes.txt"]
    with Image.open(tmp_path / "samples" / sample_media.SECOND_PICTURE) as second, Image.open(faces_dir / "obama_1.jpg") as first:
        assert second.width > first.width * 0.8 and second.height >= first.height * 0.8  # the portrait and more
    # no package ships a photo: the drawn samples instead, so the demo still runs
    drawn = sample_media.fill(tmp_path / "drawn", packaged=[])
    assert {p.name for p in drawn} == {"invoice.png", "lake.jpg", "shapes.png", "notes.txt"}


@pytest.mark.models
def test_a_person_enrolled_from_the_portrait_is_found_in_the_second_picture(tmp_path, faces_dir, images_dir, monkeypatch,
                                                                           capsys):
    import json

    from mediaindex.entrypoints.cli import main

    monkeypatch.setenv("MEDIAINDEX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEDIAINDEX_INDEX", raising=False)
    folder = tmp_path / "samples"
    sample_media.fill(folder, packaged=_stand_ins(faces_dir, images_dir))
    assert main(["people", "add", "Barack Obama", str(folder / sample_media.PORTRAIT)]) == 0
    assert main(["index", str(folder), "--workers", "1", "--json"]) == 1  # notes.txt is reported as failed
    capsys.readouterr()
    assert main(["search", "--json", "person:obama"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert {h["key"].rsplit("/", 1)[-1] for h in found["hits"]} == {sample_media.PORTRAIT, sample_media.SECOND_PICTURE}


@pytest.mark.models
@pytest.mark.slow
def test_demo_indexes_a_given_folder_and_searches_it(tmp_path, images_dir):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("n02110185_Siberian_husky.JPEG", "n02105162_malinois.JPEG", "n07747607_orange.JPEG"):
        shutil.copyfile(images_dir / name, folder / name)
    env = {**os.environ, "MEDIAINDEX_DEMO_HOME": str(tmp_path / "home")}
    done = subprocess.run(["bash", "scripts/demo", str(folder)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "indexed 3, reused 0, unchanged 0, failed 0 of 3 files" in out
    assert f"{folder}/n02110185_Siberian_husky.JPEG" in out and f"{folder}/n02105162_malinois.JPEG" in out
    assert "-- 1-2 of 2 matches" in out  # search dog: the two dogs, not the orange
    assert (tmp_path / "home" / "index.db").is_file()
