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
