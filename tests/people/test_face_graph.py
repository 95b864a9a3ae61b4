"""The search graph of the local collection (adapters/faces/ann.py, local_search.py): it agrees with brute force,
is saved beside faces.db and loaded again, is rebuilt when its file is missing, corrupt or behind faces.db, follows
faces remembered and forgotten, and clusters new faces as brute force does."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mediaindex.adapters.faces import ann, local_search
from mediaindex.adapters.faces.local import LocalFaceCollection
from mediaindex.config import Settings
from mediaindex.domain import face_vectors
from mediaindex.domain.model import Box

BOX = Box(0.1, 0.1, 0.2, 0.2)


def vectors(n: int, seed: int = 0) -> np.ndarray:
    """Face-shaped: n/5 people seen about 5 times each (same person ~0.3 apart, strangers ~1.4)."""
    rng = np.random.default_rng(seed)
    people = rng.normal(size=(max(1, n // 5), 128))
    people /= np.linalg.norm(people, axis=1, keepdims=True)
    noise = rng.normal(size=(n, 128))
    noise *= 0.3 / np.linalg.norm(noise, axis=1, keepdims=True)
    return (people[rng.integers(0, len(people), size=n)] + noise).astype(np.float32)


def open_collection(home, graph: bool = True) -> LocalFaceCollection:
    return LocalFaceCollection(Settings(home=home), space=face_vectors.DLIB, exact_below=0 if graph else 10**9)


def fill(c: LocalFaceCollection, data: np.ndarray, prefix: str = "f") -> None:
    c.import_faces((f"{prefix}{i}", 0, BOX, v) for i, v in enumerate(data))


def shas(found) -> list[str]:
    return [ref.content_sha256 for ref, _ in found]


@pytest.fixture
def data():
    return vectors(2_000)


def test_graph_agrees_with_brute_force_and_similarities_are_exact(tmp_path, data):
    graph = open_collection(tmp_path / "a")
    exact = open_collection(tmp_path / "b", graph=False)
    fill(graph, data)
    fill(exact, data)
    hits = 0
    for q in data[:100] + 0.01:
        approximate, truth = graph.nearest(q, k=10), exact.nearest(q, k=10)
        hits += len(set(shas(approximate)) & set(shas(truth)))
        truth_similarity = dict((ref.content_sha256, s) for ref, s in truth)
        for ref, s in approximate:  # every similarity given is the exact one
            if ref.content_sha256 in truth_similarity:
                assert s == truth_similarity[ref.content_sha256]
    assert graph.search.graph is not None and graph.search.graph.live_count == len(data)
    assert hits / 1000 >= 0.98


def test_the_graph_is_saved_on_close_and_loaded_without_a_rebuild(tmp_path, data, monkeypatch):
    c = open_collection(tmp_path)
    fill(c, data)
    before = c.nearest(data[7], k=5)
    c.close()
    assert c.search.graph_path.exists() and c.search.graph_path.name == "faces.dlib-resnet-v1.hnsw"
    built = []
    monkeypatch.setattr(ann.FaceGraph, "build", lambda self, *a: built.append(1))
    again = open_collection(tmp_path)
    assert again.nearest(data[7], k=5) == before
    assert built == []


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage", "manifest"])
def test_a_missing_or_corrupt_graph_is_built_again_and_answers_stay_right(tmp_path, data, damage):
    c = open_collection(tmp_path)
    fill(c, data)
    expected = [c.nearest(q, k=5) for q in data[:20]]
    path = c.search.graph_path
    c.close()
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "garbage":
        raw = bytearray(path.read_bytes())
        raw[100:4100] = np.random.default_rng(0).integers(0, 256, size=4000, dtype=np.uint8).tobytes()
        path.write_bytes(bytes(raw))
    else:
        path.with_name(path.name + ".json").write_text("{not json")
    again = open_collection(tmp_path)
    assert [again.nearest(q, k=5) for q in data[:20]] == expected


def test_faces_remembered_while_the_graph_was_away_are_added_when_it_loads(tmp_path, data):
    c = open_collection(tmp_path)
    fill(c, data[:1000])
    c.nearest(data[0], k=1)
    c.close()  # graph saved with 1,000 faces
    other = open_collection(tmp_path, graph=False)  # a process that never loads the graph
    fill(other, data[1000:], prefix="late")
    other.close()
    again = open_collection(tmp_path)
    assert shas(again.nearest(data[1500], k=1)) == ["late500"]
    assert again.search.graph.live_count == len(data)


def test_faces_remembered_join_the_graph_in_place(tmp_path, data, monkeypatch):
    c = open_collection(tmp_path)
    fill(c, data[:1000])
    c.nearest(data[0], k=1)
    graph = c.search.graph
    monkeypatch.setattr(ann.FaceGraph, "build", lambda self, *a: pytest.fail("rebuilt"))
    fill(c, data[1000:1010], prefix="new")
    assert c.search.graph is graph and graph.live_count == 1010
    assert shas(c.nearest(data[1003], k=1)) == ["new3"]


def test_forgotten_faces_leave_the_graph_and_are_never_returned(tmp_path, data):
    c = open_collection(tmp_path)
    fill(c, data)
    assert shas(c.nearest(data[42], k=1)) == ["f42"]
    c.hide_face("f42", 0, BOX)
    assert "f42" not in shas(c.nearest(data[42], k=10))
    assert c.search.graph.live_count == len(data) - 1
    c.close()
    # a saved graph that still holds a face forgotten since (by another process) never returns it either
    c = open_collection(tmp_path)
    c.nearest(data[0], k=1)
    c.close()
    other = open_collection(tmp_path, graph=False)
    other.hide_face("f43", 0, BOX)
    other.close()
    again = open_collection(tmp_path)
    assert "f43" not in shas(again.nearest(data[43], k=10))


def test_row_ids_are_never_given_twice(tmp_path, data):
    c = open_collection(tmp_path, graph=False)
    fill(c, data[:3])
    last = c.store.db.execute("SELECT max(id) FROM remembered").fetchone()[0]
    c.hide_face("f2", 0, BOX)  # the newest row goes: SQLite alone would give its id again
    fill(c, data[3:4], prefix="next")
    assert c.store.db.execute("SELECT id FROM remembered WHERE content_sha256 = 'next0'").fetchone()[0] == last + 1


def test_clusters_through_the_graph_are_those_of_brute_force(tmp_path):
    data = vectors(1_500, seed=3)
    graph = open_collection(tmp_path / "a")
    exact = open_collection(tmp_path / "b", graph=False)
    for c in (graph, exact):
        fill(c, data[:1000])
        c.clusters(min_size=1, unnamed_only=False)
        fill(c, data[1000:], prefix="more")  # new faces join the clusters incrementally
    assert graph.search.graph is not None

    def partition(c):
        return sorted(sorted(m.ref.content_sha256 for m in members)
                      for members in c.clusters(min_size=1, unnamed_only=False).values())

    assert partition(graph) == partition(exact)
    assert graph.clusters(unnamed_only=False).keys() == exact.clusters(unnamed_only=False).keys()


# ---- a crafted graph, saves that cannot be written or were killed, a graph built and never closed ---------------------
def _fix_manifest(path) -> None:
    """Make the manifest vouch for the files as they are now (what a forger would do: CRC-32 is no signature)."""
    import json

    manifest_path = path.with_name(path.name + ".json")
    manifest = json.loads(manifest_path.read_text())
    labels = path.with_name(path.name + ".ids.npy")
    manifest["graph"] = [path.stat().st_size, ann._crc32(path)]
    manifest["labels"] = [labels.stat().st_size, ann._crc32(labels)]
    manifest_path.write_text(json.dumps(manifest))


def _saved_graph(tmp_path, data):
    c = open_collection(tmp_path)
    fill(c, data)
    expected = [c.nearest(q, k=5) for q in data[:10]]
    c.close()
    return c.search.graph_path, expected


def _level0_link(path, node: int, slot: int) -> int:
    """Offset in the file of a node's `slot`-th link at level 0."""
    header = ann._HEADER.unpack_from(path.read_bytes())
    return ann._HEADER.size + node * header[3] + 4 + 4 * slot


def test_a_crafted_graph_whose_manifest_matches_is_built_again_never_crashing(tmp_path, data):
    import subprocess
    import sys

    path, expected = _saved_graph(tmp_path, data)
    raw = bytearray(path.read_bytes())
    for node in range(len(data)):  # every first link of level 0 points far outside the graph
        at = _level0_link(path, node, 0)
        raw[at:at + 4] = (0x7FFFFFF0).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    _fix_manifest(path)
    script = ("import sys, pathlib; from tests.people.test_face_graph import open_collection, vectors; "
              "c = open_collection(pathlib.Path(sys.argv[1])); d = vectors(2_000); "
              "print([[r.content_sha256 for r, _ in c.nearest(q, k=5)] for q in d[:10]])")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": __import__("os").pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr[-2000:]  # before: SIGSEGV in hnswlib, on every run
    assert done.stdout.strip() == str([shas(found) for found in expected])
    assert "cannot be used" in done.stderr and "names no node" in done.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=st.integers(0, 299), slot=st.integers(0, 2 * ann.M - 1), value=st.integers(0, 2**32 - 1))
def test_a_link_is_accepted_exactly_when_it_names_a_node(tmp_path_factory, node, slot, value):
    folder = tmp_path_factory.mktemp("graph")
    graph = ann.FaceGraph(folder / "g.hnsw")
    graph.build(np.arange(300), vectors(300))
    assert graph.save()
    path = graph.path
    raw = bytearray(path.read_bytes())
    count_at = _level0_link(path, node, 0) - 4
    links = int.from_bytes(raw[count_at:count_at + 2], "little")
    at = _level0_link(path, node, slot)
    raw[at:at + 4] = value.to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    if slot < links and value >= 300:
        with pytest.raises(ValueError, match="names no node"):
            ann.check_graph(path, 128)
    else:  # a link to a node of the graph (or a slot past the node's count): hnswlib can follow it
        assert ann.check_graph(path, 128) == 300
        _fix_manifest(path)
        again = ann.FaceGraph(path)
        assert again.load() and again.search(vectors(300)[:3], 5).shape == (3, 5)


@pytest.mark.parametrize("field", range(13))
def test_a_graph_header_out_of_shape_is_refused(tmp_path, field):
    graph = ann.FaceGraph(tmp_path / "g.hnsw")
    graph.build(np.arange(300), vectors(300))
    graph.save()
    values = list(ann._HEADER.unpack_from(graph.path.read_bytes()))
    values[field] = values[field] * 1000 + 17 if field != 11 else -1.0
    raw = bytearray(graph.path.read_bytes())
    raw[:ann._HEADER.size] = ann._HEADER.pack(*values)
    graph.path.write_bytes(bytes(raw))
    if field in (11, 12):  # the level multiplier and ef_construction: not read when searching
        assert ann.check_graph(graph.path, 128) == 300
    else:
        with pytest.raises(ValueError):
            ann.check_graph(graph.path, 128)


def test_forged_labels_are_built_again(tmp_path, data):
    path, expected = _saved_graph(tmp_path, data)
    labels = path.with_name(path.name + ".ids.npy")
    for forged in (np.array([-5, 3], np.int64), np.array([2**62], np.int64), np.array([[1, 2]], np.int64),
                   np.array([3, 3, 4], np.int64), np.array(["a"])):
        with open(labels, "wb") as f:
            np.save(f, forged)
        _fix_manifest(path)
        again = open_collection(tmp_path)
        assert [again.nearest(q, k=5) for q in data[:10]] == expected


@pytest.mark.parametrize("place", ["folder", "fifo", "disk full"])
def test_a_graph_that_cannot_be_saved_or_read_costs_a_build_never_a_traceback(tmp_path, data, place, caplog,
                                                                               monkeypatch):
    from tests.support.pipes import named_pipe

    c = open_collection(tmp_path)
    fill(c, data)
    path = c.search.graph_path
    if place == "folder":
        path.mkdir()
    elif place == "disk full":
        def full(self, f, *a, **k):
            f.write(b"\0" * 100)
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(np, "save", lambda f, *a, **k: full(None, f))
    expected = [c.nearest(q, k=5) for q in data[:5]]  # builds, tries to save
    c.close()
    assert ("was not saved" in caplog.text) == (place != "fifo")
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    if place == "fifo":
        for name in (path.name + ".json", path.name):
            target = path.with_name(name)
            target.unlink()
            with named_pipe(target) as opened:
                assert [open_collection(tmp_path).nearest(q, k=5) for q in data[:5]] == expected
            assert not opened.is_set()


def test_temporary_files_of_killed_saves_are_removed(tmp_path, data):
    import os
    import subprocess
    import sys

    path, _ = _saved_graph(tmp_path, data)
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    leftovers = [path.with_name(f"{name}.{gone}.tmp") for name in (path.name, path.name + ".ids.npy",
                                                                   path.name + ".json")]
    alive = path.with_name(f"{path.name}.{os.getppid()}.tmp")
    for leftover in (*leftovers, alive):
        leftover.write_bytes(b"x" * 1000)
    again = open_collection(tmp_path)
    again.nearest(data[0], k=1)  # loads
    assert not any(p.exists() for p in leftovers) and alive.exists()


def test_a_graph_built_for_a_search_is_saved_without_waiting_for_close(tmp_path, data, monkeypatch):
    c = open_collection(tmp_path)
    fill(c, data)  # fewer faces than SAVE_EVERY (as 25,000-50,000 are with the real thresholds)
    assert len(data) < local_search.SAVE_EVERY
    c.nearest(data[0], k=1)  # a command that only searches, and never closes the collection
    assert c.search.graph_path.exists()
    built = []
    monkeypatch.setattr(ann.FaceGraph, "build", lambda self, *a: built.append(1))
    assert open_collection(tmp_path).nearest(data[0], k=1) == c.nearest(data[0], k=1) and built == []


def test_a_link_of_an_upper_level_that_names_no_node_is_refused(tmp_path):
    graph = ann.FaceGraph(tmp_path / "g.hnsw")
    graph.build(np.arange(2_000), vectors(2_000))
    graph.save()
    raw = bytearray(graph.path.read_bytes())
    header = ann._HEADER.unpack_from(raw)
    at, forged = ann._HEADER.size + header[2] * header[3], 0
    while at < len(raw) and not forged:  # the first node with a link above level 0
        size = int.from_bytes(raw[at:at + 4], "little")
        at += 4
        if size and int.from_bytes(raw[at:at + 2], "little"):
            raw[at + 4:at + 8] = (2_000).to_bytes(4, "little")  # one past the last node
            forged = 1
        at += size
    assert forged
    graph.path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="upper level names no node"):
        ann.check_graph(graph.path, 128)
