"""The search graph of the local collection (adapters/faces/ann.py, local_search.py): it agrees with brute force,
is saved beside faces.db and loaded again, is rebuilt when its file is missing, corrupt or behind faces.db, follows
faces remembered and forgotten, and clusters new faces as brute force does."""

from __future__ import annotations

import numpy as np
import pytest

from mediaindex.adapters.faces import ann
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
