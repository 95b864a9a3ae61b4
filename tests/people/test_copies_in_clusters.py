"""A face in two copies of one photo counts once in the clusters of unnamed faces: the copies are listed with the
first file, and one portrait copied twice is no group."""

from __future__ import annotations

from mediaindex.config import Settings
from tests.people.synthetic import index_folder, local_people, png, sqlite_index


def _library(root, files):
    media = root / "media"
    media.mkdir(parents=True)
    for name, colour in files.items():
        (media / name).write_bytes(png(colour))
    people = local_people(Settings(home=root, features=("faces", "people")), sqlite_index(root))
    index_folder(people.pipeline, media)
    return people


def _names(files):
    return sorted(f["key"].rsplit("/", 1)[-1] for f in files)


def test_copies_of_one_photo_make_one_face_in_its_cluster(tmp_path):
    # Bob alone (seed 1), the same bytes under another name, and another photo with Ada and Bob (seed 2)
    people = _library(tmp_path / "a", {"bob.png": (0, 250, 0), "bob copy.png": (0, 250, 0),
                                       "both.png": (0, 0, 250)})
    bob = next(c for c in people.clusters(min_size=1)
               if any(f["key"].endswith(("bob.png", "bob copy.png")) for f in c["files"]))
    assert bob["faces"] == 2 and len(bob["files"]) == 2  # two faces, not three files
    portrait = next(f for f in bob["files"] if not f["key"].endswith("both.png"))
    assert _names([portrait, *({"key": k} for k in portrait["copies"])]) == ["bob copy.png", "bob.png"]


def test_one_portrait_and_its_copy_are_no_group(tmp_path):
    people = _library(tmp_path / "b", {"bob.png": (0, 250, 0), "bob copy.png": (0, 250, 0)})
    assert people.clusters(min_size=2) == []
    [alone] = people.clusters(min_size=1)
    assert len(alone["files"]) == 1 and len(alone["files"][0]["copies"]) == 1
