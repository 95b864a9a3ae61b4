"""Look-alikes with the real label model on real photos: edited copies grouped with their original (and the largest
kept), bursts with capture times kept apart as similar, blank and tiny pictures never grouped, `similar:FILE` ranked
by likeness and combined with filters, and the vectors file keeping models apart."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageOps

from mediaindex.adapters.vectors.local import LocalPictureVectors
from mediaindex.bootstrap import build_app
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.look_alikes import EDITED_COPY, LOOK, NEAR_IDENTICAL, SAME_BYTES, SIMILAR
from mediaindex.domain.query import Query
from mediaindex.ports import PictureVector
from mediaindex.services.look_alikes import NotFound, find_duplicates, search_similar
from tests.local_mode.conftest import cli

pytestmark = [pytest.mark.models]

ORIGINALS = ["n01440764_tench.JPEG", "n02110185_Siberian_husky.JPEG", "n02793495_barn.JPEG",
             "n03160309_dam.JPEG", "n07747607_orange.JPEG", "n01860187_black_swan.JPEG"]


def _exif_time(when: str) -> bytes:
    exif = Image.Exif()
    exif[0x8769] = {0x9003: when}  # DateTimeOriginal, in the Exif IFD
    return exif.tobytes()


@pytest.fixture(scope="module")
def library(tmp_path_factory, images_dir, video_path):
    root = tmp_path_factory.mktemp("lookalikes")
    folder, home = root / "pictures", root / "home"
    folder.mkdir()
    present = [name for name in ORIGINALS if (images_dir / name).exists()]
    for name in present:
        (folder / name).write_bytes((images_dir / name).read_bytes())
    tench = Image.open(images_dir / present[0]).convert("RGB")
    husky = Image.open(images_dir / present[1]).convert("RGB")
    ImageOps.mirror(tench).save(folder / "tench_flipped.jpg", quality=70)
    tench.resize((tench.width // 2, tench.height // 2)).save(folder / "tench_half.jpg", quality=85)
    buffer = io.BytesIO()
    husky.save(buffer, "JPEG", quality=20)
    (folder / "husky_q20.jpg").write_bytes(buffer.getvalue())
    w, h = husky.size
    captioned = husky.copy()
    draw = ImageDraw.Draw(captioned)
    draw.rectangle((0, int(h * 0.85), w, h), fill=(0, 0, 0))
    draw.text((10, int(h * 0.88)), "Holiday 2024", fill=(255, 255, 255))
    captioned.save(folder / "husky_captioned.jpg", quality=90)
    husky.crop((int(w * 0.1), int(h * 0.1), int(w * 0.9), int(h * 0.9))).save(folder / "husky_cropped.jpg")
    (folder / "copy_of_tench.JPEG").write_bytes((images_dir / present[0]).read_bytes())
    # a burst: two frames of the clip a third of a second apart, each with its own capture time
    import av

    with av.open(str(video_path)) as container:
        frames = [f.to_image() for i, f in enumerate(container.decode(video=0)) if i in (150, 160)]
    frames[0].save(folder / "burst_1.jpg", quality=92, exif=_exif_time("2024:07:01 12:00:00"))
    frames[1].save(folder / "burst_2.jpg", quality=92, exif=_exif_time("2024:07:01 12:00:01"))
    Image.new("RGB", (640, 480), (0, 0, 0)).save(folder / "black.png")
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "pixel.png")
    env = {"MEDIAINDEX_HOME": str(home), "MEDIAINDEX_INDEX": ""}
    done = cli("index", str(folder), "--workers", "2", "--json", env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    app = build_app(Settings.from_env().with_overrides(home=home, index_url=None), read_only=True)
    return folder, app


def _groups(report):
    return [{Path(m.key).name: g.reasons.get(m.id, "keep") for m in g.members} for g in report.groups]


def test_edited_copies_are_grouped_with_their_original_and_the_largest_is_kept(library):
    folder, app = library
    report = find_duplicates(app.index, app.vectors)
    groups = _groups(report)
    tench = next(g for g in groups if "n01440764_tench.JPEG" in g)
    husky = next(g for g in groups if "n02110185_Siberian_husky.JPEG" in g)
    assert tench["copy_of_tench.JPEG"] == SAME_BYTES or tench["n01440764_tench.JPEG"] == SAME_BYTES
    assert tench["tench_flipped.jpg"] in (EDITED_COPY, NEAR_IDENTICAL)
    assert tench["tench_half.jpg"] in (EDITED_COPY, NEAR_IDENTICAL)
    assert set(husky) == {"n02110185_Siberian_husky.JPEG", "husky_q20.jpg", "husky_captioned.jpg", "husky_cropped.jpg"}
    # the keeper is the largest in pixels, then in bytes (the crop has fewer pixels, the q20 copy fewer bytes)
    group = next(g for g in report.groups if any(Path(m.key).name == "husky_q20.jpg" for m in g.members))
    def largest(key):
        with Image.open(key) as image:
            return image.width * image.height, Path(key).stat().st_size
    assert group.keeper.key == max((m.key for m in group.members), key=largest)
    assert Path(group.keeper.key).name not in ("husky_q20.jpg", "husky_cropped.jpg")
    # nothing else is a copy of anything: the burst, the other originals, the blank and tiny pictures stay apart
    grouped = {name for g in groups for name in g}
    assert not grouped & {"burst_1.jpg", "burst_2.jpg", "black.png", "pixel.png", "n02793495_barn.JPEG",
                          "n07747607_orange.JPEG", "n01860187_black_swan.JPEG"}
    # ordered by what a clean-up frees
    assert [g.reclaimable for g in report.groups] == sorted((g.reclaimable for g in report.groups), reverse=True)


def test_a_burst_with_capture_times_is_similar_not_a_copy(library):
    _, app = library
    report = find_duplicates(app.index, app.vectors, with_similar=True)
    similar = [{Path(m.key).name for m in g.members} for g in report.similar]
    assert {"burst_1.jpg", "burst_2.jpg"} in similar
    assert all(reason == SIMILAR for g in report.similar for reason in g.reasons.values())
    as_json = report.to_dict(with_similar=True)
    assert json.loads(json.dumps(as_json))["groups"][0]["files"][0]["key"]


def test_blank_and_tiny_pictures_get_no_vector(library):
    folder, app = library
    for name in ("black.png", "pixel.png"):
        doc = app.index.get(__import__("mediaindex.domain.document", fromlist=["x"]).document_id("", str(folder / name)))
        assert doc is not None and doc.doc["status"] == "indexed"
        assert doc.doc.get("look_model") is None and "look_model" in doc.doc
        assert app.vectors.vectors_of(LOOK, doc.doc["content_sha256"]) == []


def test_similar_ranks_copies_first_and_combines_with_filters(library):
    folder, app = library
    result, _ = search_similar(app.index, app.vectors, Query.coerce(f"similar:{folder / 'n01440764_tench.JPEG'}"))
    names = [Path(h["key"]).name for h in result.hits]
    assert set(names[:2]) == {"tench_flipped.jpg", "tench_half.jpg"}  # the same bytes (its copy) left out
    assert "copy_of_tench.JPEG" not in names and "n01440764_tench.JPEG" not in names
    scores = [h["similarity"] for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    filtered, _ = search_similar(app.index, app.vectors,
                                 Query.coerce(f"similar:{folder / 'n02110185_Siberian_husky.JPEG'} path:{folder}/husky_c"))
    assert {Path(h["key"]).name for h in filtered.hits} == {"husky_captioned.jpg", "husky_cropped.jpg"}
    with pytest.raises(NotFound):
        search_similar(app.index, app.vectors, Query.coerce(f"similar:{folder / 'not-there.jpg'}"))
    with pytest.raises(NotFound, match="too small or blank"):
        search_similar(app.index, app.vectors, Query.coerce(f"similar:{folder / 'black.png'}"))


def _random_store(folder, count, seed):
    """A vectors file of `count` random 1,280-number vectors of model "m", content i as i in hexadecimal."""
    import numpy as np

    rng = np.random.default_rng(seed)
    base = rng.standard_normal((count, 1280)).astype(np.float32)
    store = LocalPictureVectors(folder / "vectors.db")
    for i, v in enumerate(base):
        store.remember(LOOK, [PictureVector(f"{i:064x}", "m", v.tolist())])
    return store, base, rng


def test_vectors_of_two_models_are_never_compared(tmp_path):
    store = LocalPictureVectors(tmp_path / "vectors.db")
    store.remember(LOOK, [PictureVector("a" * 64, "model-a", [1.0, 0.0, 0.5] * 100)])
    store.remember(LOOK, [PictureVector("b" * 64, "model-b", [1.0, 0.0, 0.5] * 100)])
    assert [sha for sha, _ in store.nearest(LOOK, "model-a", [1.0, 0.0, 0.5] * 100)] == ["a" * 64]
    assert [sha for sha, _ in store.nearest(LOOK, "model-b", [1.0, 0.0, 0.5] * 100)] == ["b" * 64]
    # a second reader follows the writer's changes (new rows added, a removal rebuilds)
    reader = LocalPictureVectors(tmp_path / "vectors.db")
    assert len(reader.nearest(LOOK, "model-a", [1.0, 0.0, 0.5] * 100)) == 1
    store.remember(LOOK, [PictureVector("c" * 64, "model-a", [0.9, 0.1, 0.5] * 100)])
    assert len(reader.nearest(LOOK, "model-a", [1.0, 0.0, 0.5] * 100)) == 2
    store.forget(LOOK, ["a" * 64])
    assert [sha for sha, _ in reader.nearest(LOOK, "model-a", [1.0, 0.0, 0.5] * 100)] == ["c" * 64]


def test_the_graph_proposes_and_the_file_decides_above_the_exact_limit(tmp_path, monkeypatch):
    from mediaindex.adapters.vectors import local

    monkeypatch.setattr(local, "EXACT_BELOW", 50)
    store, base, rng = _random_store(tmp_path, 300, seed=3)
    found = store.nearest(LOOK, "m", (base[7] + 0.05 * rng.standard_normal(1280)).tolist(), k=3)
    assert found[0][0] == f"{7:064x}" and found[0][1] > 0.99
    assert list((tmp_path).glob("vectors.look.*.hnsw"))  # saved beside the file, for the next process


def test_a_damaged_vectors_file_is_moved_aside_and_the_next_index_rebuilds_it(tmp_path, images_dir, caplog):
    folder, home = tmp_path / "pictures", tmp_path / "home"
    folder.mkdir()
    for name in ORIGINALS[:2]:
        (folder / name).write_bytes((images_dir / name).read_bytes())
    env = {"MEDIAINDEX_HOME": str(home), "MEDIAINDEX_INDEX": ""}
    assert cli("index", str(folder), "--workers", "1", env=env).returncode == 0
    (home / "vectors.db").write_bytes(b"this is not a database" * 500)
    for suffix in ("-wal", "-shm"):
        (home / f"vectors.db{suffix}").unlink(missing_ok=True)
    store = LocalPictureVectors(home / "vectors.db")
    assert store.count(LOOK) == 0  # a new file, the damaged one kept aside with a warning
    assert "damaged" in caplog.text and list(home.glob("vectors.db.damaged-*"))
    again = cli("index", str(folder), "--workers", "1", "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["indexed"] == 2  # analysed again for the vectors they missed
    assert LocalPictureVectors(home / "vectors.db").count(LOOK) == 2


def test_a_damaged_search_graph_is_built_again(tmp_path, monkeypatch, caplog):
    from mediaindex.adapters.vectors import local

    monkeypatch.setattr(local, "EXACT_BELOW", 20)
    store, base, _ = _random_store(tmp_path, 40, seed=5)
    assert store.nearest(LOOK, "m", base[3].tolist(), k=1)[0][0] == f"{3:064x}"
    [graph] = tmp_path.glob("vectors.look.*.hnsw")
    graph.write_bytes(b"\0" * 100)
    fresh = LocalPictureVectors(tmp_path / "vectors.db")
    assert fresh.nearest(LOOK, "m", base[3].tolist(), k=1)[0][0] == f"{3:064x}"
    assert "building it again" in caplog.text


def test_videos_are_compared_on_several_frames_never_on_a_black_start(tmp_path, images_dir):
    """Two clips that start black and then show other photos are not alike; a smaller re-encoding of one is its
    copy (most of its frames have a copy among the other's)."""
    from tests.video.synth import scenes, solid, write_video

    def photo(name, size=(320, 240)):
        return Image.open(images_dir / name).convert("RGB").resize(size)

    folder, home = tmp_path / "clips", tmp_path / "home"
    folder.mkdir()
    black = solid((0, 0, 0), (320, 240))
    one = scenes(5, (black, 2), (photo(ORIGINALS[0]), 2), (photo(ORIGINALS[1]), 2), (photo(ORIGINALS[2]), 2))
    two = scenes(5, (black, 2), (photo(ORIGINALS[4]), 2), (photo(ORIGINALS[5]), 2), (photo(ORIGINALS[3]), 2))
    write_video(folder / "one.mp4", one)
    write_video(folder / "one smaller.mkv", [f.resize((160, 120)) for f in one])
    write_video(folder / "two.mp4", two)
    env = {"MEDIAINDEX_HOME": str(home), "MEDIAINDEX_INDEX": ""}
    done = cli("index", str(folder), "--workers", "1", "--json", env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    app = build_app(Settings.from_env().with_overrides(home=home, index_url=None), read_only=True)
    sha = app.index.get(__import__("mediaindex.domain.document", fromlist=["x"]).document_id(
        "", str(folder / "one.mp4"))).doc["content_sha256"]
    frames = app.vectors.vectors_of(LOOK, sha)
    assert len(frames) >= 2 and all(f.layout for f in frames)  # several frames; the black ones have none
    groups = [{Path(m.key).name for m in g.members} for g in find_duplicates(app.index, app.vectors).groups]
    assert groups == [{"one.mp4", "one smaller.mkv"}]


def test_a_named_pipe_at_the_vectors_file_is_refused_not_waited_on(tmp_path):
    import os

    os.mkfifo(tmp_path / "vectors.db")
    with pytest.raises(ConfigurationError, match="named pipe"):
        LocalPictureVectors(tmp_path / "vectors.db").count(LOOK)
