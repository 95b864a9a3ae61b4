"""The main flows with the real local models on the real photos: what a new user runs first. Index a folder with
worker processes, find the dogs, find a known person; and the local models with OpenSearch instead of SQLite."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.local_mode.conftest import cli

pytestmark = [pytest.mark.models, pytest.mark.slow]

DOGS = {"n02110185_Siberian_husky.JPEG", "n02105162_malinois.JPEG", "n02097474_Tibetan_terrier.JPEG",
        "n02091635_otterhound.JPEG"}


@pytest.fixture(scope="module")
def library(tmp_path_factory, images_dir, faces_dir, video_path):
    """Obama, and the two people of the video, enrolled from one photo each, then a folder of the 40 labelled photos, the portraits and the video indexed
    with two worker processes into a fresh MEDIAINDEX_HOME. Once for the module (models load once per process)."""
    root = tmp_path_factory.mktemp("library")
    home = root / "home"
    folder = root / "pictures"
    shutil.copytree(images_dir, folder / "images")
    shutil.copytree(faces_dir, folder / "faces")
    shutil.copyfile(video_path, folder / video_path.name)
    env = {"MEDIAINDEX_HOME": str(home), "MEDIAINDEX_INDEX": ""}
    for name, photo in (("Barack Obama", "obama_1.jpg"), ("Alex Lacamoire", "alex_lacamoire_1.png"),
                        ("Lin-Manuel Miranda", "lin_manuel_miranda_1.png")):
        enrolled = cli("people", "add", name, str(faces_dir / photo), env=env)
        assert enrolled.returncode == 0, enrolled.stderr
    done = cli("index", str(folder), "--workers", "2", "--json", env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    return folder, env, json.loads(done.stdout)


def test_every_file_is_indexed_by_the_local_models(library):
    folder, env, summary = library
    assert (summary["listed"], summary["indexed"], summary["failed"], summary["errors"]) == (54, 54, 0, 0)
    assert summary["mode"] == "processes" and summary["workers"] == 2
    again = json.loads(cli("index", str(folder), "--json", env=env).stdout)
    assert (again["unchanged"], again["indexed"]) == (54, 0)
    videos = json.loads(cli("search", "--type", "video", "--json", env=env).stdout)
    assert [h["key"] for h in videos["hits"]] == [str(folder / "short_hamilton_clip.mp4")]
    assert videos["hits"][0]["media_type"] == "video" and videos["hits"][0]["face_count"] >= 1


def test_search_dog_finds_the_dogs(library):
    folder, env, _ = library
    found = json.loads(cli("search", "dog", "--json", "--limit", "50", env=env).stdout)
    names = {h["key"].rsplit("/", 1)[-1] for h in found["hits"]}
    assert DOGS <= names
    assert all(h["analyzer"] == "local" for h in found["hits"])
    human = cli("search", "dog", env=env).stdout
    assert "n02110185_Siberian_husky.JPEG" in human and "matches" in human.splitlines()[-1]


def test_search_by_person_finds_the_enrolled_person_in_other_photos(library):
    folder, env, _ = library
    found = json.loads(cli("search", "--person", "barack obama", "--json", "--limit", "50", env=env).stdout)
    names = {h["key"].rsplit("/", 1)[-1] for h in found["hits"]}
    assert {"obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "two_people_obama_biden.jpg"} <= names
    assert not names & {"biden_1.jpg", "guido_van_rossum_1.jpg", "steve_wozniak_1.jpg"}
    stats = json.loads(cli("stats", "--json", env=env).stdout)
    assert dict(stats["people"])["Barack Obama"] == len(names)


def test_local_models_with_opensearch(osmem_clone, images_dir, tmp_path):
    folder = tmp_path / "few"
    folder.mkdir()
    for name in sorted(DOGS)[:2] + ["n07747607_orange.JPEG"]:
        shutil.copyfile(images_dir / name, folder / name)
    env = {"MEDIAINDEX_HOME": str(tmp_path / "home"), "MEDIAINDEX_INDEX": osmem_clone.url}
    done = cli("index", str(folder), "--workers", "1", "--json", env=env, timeout=600)
    assert json.loads(done.stdout)["indexed"] == 3, done.stderr
    found = json.loads(cli("search", "dog", "--json", env=env).stdout)
    assert {h["key"].rsplit("/", 1)[-1] for h in found["hits"]} == set(sorted(DOGS)[:2])
    assert not (tmp_path / "home" / "index.db").exists()


def test_a_person_search_finds_the_video_and_says_when_they_appear(library):
    folder, env, _ = library
    found = json.loads(cli("search", "--person", "Alex Lacamoire", "--type", "video", "--json", env=env).stdout)
    [video] = found["hits"]
    assert video["key"] == str(folder / "short_hamilton_clip.mp4")
    spans = [(s["start"], s["end"]) for s in video["video"]["segments"]["people"] if s["name"] == "Alex Lacamoire"]
    # at the piano in the opening shot (0-0.67 s); the next shot, sampled at 1.0 s, shows him in profile close up,
    # which no packaged detector finds, so his span ends there (before shot sampling: at the next sample, 6 s)
    assert spans == [(0.0, 1.001)]
    human = cli("search", "person:\"Lin-Manuel Miranda\"", "type:video", env=env).stdout
    # in the wide opening shot and in his close-up at the regular sample of 6 s (the shot from 2.7 s gets no sample
    # of its own: its interval already had one shot sample, at 1 s), not in Alex's profile shot nor the last one
    assert "short_hamilton_clip.mp4" in human and "Lin-Manuel Miranda (0:00-0:01, 0:06-0:07)" in human
