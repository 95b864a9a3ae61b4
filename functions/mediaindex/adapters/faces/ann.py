"""Approximate nearest neighbours over the remembered faces of one vector space: an HNSW graph (hnswlib) kept in
memory, updated as faces come and go, and saved beside faces.db (`faces.<model>.hnsw`).

faces.db stays the source of truth. The graph only proposes candidates, by the row id of `remembered` (its label);
the collection keeps the candidates that are still remembered and scores them again exactly from its own vectors,
so a graph that lags behind the file can miss a face but never return a removed one or a wrong similarity. On
every load the graph's labels are compared with the file's row ids and the difference applied (row ids are never
given twice, local.py's `_next_face_id`, so an id in both is the same face). The saved graph has a manifest with
the CRC-32 and size of its files; a missing, corrupt or unreadable one is built again from the vectors.

Why hnswlib (docs/performance.md, "Approximate face search"): among faiss, usearch and hnswlib it builds fastest
here, answers in 0.2 ms with recall@10 above 0.99 at 100,000 faces, and deletes (faiss's HNSW cannot).
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Below this many faces brute force is as fast as the graph (bench/bench_faces.py --switch-over measures both) and
# costs no build: the collection stays exact.
EXACT_BELOW = 25_000
M = 16  # links per node: recall above 0.99 at ef 64 on face-shaped vectors (bench/bench_ann_candidates.py)
EF_CONSTRUCTION = 100
EF_SEARCH = 128  # 64 gave recall@10 0.95 at 1,000,000 faces, 128 keeps it higher for ~0.1 ms more
THREADS = 2
# Clustering asks for the faces within the match threshold of each new face: near ones, which a small beam finds
# (pairs found at ef 40 equalled brute force's at 100,000 faces: bench/bench_scale.py reports the pair recall)
EF_PAIRS = 48


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return crc


class FaceGraph:
    """An HNSW graph over 128-d float32 vectors labelled by row id, with the set of live labels beside it."""

    def __init__(self, path: Path, dimensions: int = 128) -> None:
        self.path = path
        self.dimensions = dimensions
        self._index: Any = None  # an hnswlib.Index (untyped) once loaded or built
        self._live = np.zeros(0, dtype=bool)  # indexed by row id: is that face in the graph (not deleted)?
        self.live_count = 0
        self.unsaved = 0  # changes since the file was written

    # ---- files ---------------------------------------------------------------------------------------------------
    @property
    def _labels_path(self) -> Path:
        return self.path.with_name(self.path.name + ".ids.npy")

    @property
    def _manifest_path(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def save(self) -> None:
        """Graph, labels, then the manifest that vouches for both (each written aside and renamed into place): a
        crash at any point leaves a manifest that does not match, and the next load builds the graph again."""
        if self._index is None:
            return
        graph_tmp = self.path.with_name(self.path.name + ".tmp")
        labels_tmp = self._labels_path.with_name(self._labels_path.name + ".tmp")
        self._index.save_index(str(graph_tmp))
        with open(labels_tmp, "wb") as f:
            np.save(f, np.flatnonzero(self._live).astype(np.int64))
        manifest = {"format": 1, "dimensions": self.dimensions, "live": self.live_count,
                    "graph": [os.path.getsize(graph_tmp), _crc32(graph_tmp)],
                    "labels": [os.path.getsize(labels_tmp), _crc32(labels_tmp)]}
        self._manifest_path.unlink(missing_ok=True)
        os.replace(graph_tmp, self.path)
        os.replace(labels_tmp, self._labels_path)
        manifest_tmp = self._manifest_path.with_name(self._manifest_path.name + ".tmp")
        manifest_tmp.write_text(json.dumps(manifest))
        os.replace(manifest_tmp, self._manifest_path)
        self.unsaved = 0

    def load(self) -> bool:
        """The saved graph, if its manifest vouches for its files; False (nothing loaded) otherwise."""
        import hnswlib

        try:
            manifest = json.loads(self._manifest_path.read_text())
            for path, (size, crc) in ((self.path, manifest["graph"]), (self._labels_path, manifest["labels"])):
                if os.path.getsize(path) != size or _crc32(path) != crc:
                    raise ValueError(f"{path.name} does not match its manifest")
            if manifest["dimensions"] != self.dimensions:
                raise ValueError("vectors of another size")
            labels = np.load(self._labels_path)
            index = hnswlib.Index(space="l2", dim=self.dimensions)
            index.load_index(str(self.path))
        except FileNotFoundError:
            return False
        except Exception as e:  # noqa: BLE001 - any unreadable graph is built again from faces.db
            log.warning("the face search graph %s cannot be used (%s): building it again", self.path, e)
            return False
        index.set_num_threads(THREADS)
        index.set_ef(EF_SEARCH)
        self._index = index
        self._live = np.zeros(int(labels.max()) + 1 if len(labels) else 0, dtype=bool)
        self._live[labels] = True
        self.live_count = int(len(labels))
        self.unsaved = 0
        return True

    # ---- contents ------------------------------------------------------------------------------------------------
    def build(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        import hnswlib

        index = hnswlib.Index(space="l2", dim=self.dimensions)
        index.init_index(max_elements=max(1024, len(labels) + len(labels) // 4), M=M, ef_construction=EF_CONSTRUCTION)
        index.set_num_threads(THREADS)
        self._index = index
        self._live = np.zeros(0, dtype=bool)
        self.live_count = 0
        self.add(labels, vectors)
        index.set_ef(EF_SEARCH)

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        """Add faces (a label already in the graph gets this vector)."""
        if len(labels) == 0:
            return
        labels = np.asarray(labels, dtype=np.int64)
        needed = self._index.element_count + len(labels)
        if needed > self._index.max_elements:
            self._index.resize_index(needed + needed // 4)
        self._index.add_items(np.ascontiguousarray(vectors, dtype=np.float32), labels)
        top = int(labels.max()) + 1
        if top > len(self._live):
            grown = np.zeros(max(top, 2 * len(self._live)), dtype=bool)
            grown[:len(self._live)] = self._live
            self._live = grown
        self.live_count += int(len(labels) - np.count_nonzero(self._live[labels]))
        self._live[labels] = True
        self.unsaved += len(labels)

    def remove(self, labels: np.ndarray) -> None:
        for label in labels:
            label = int(label)
            if label < len(self._live) and self._live[label]:
                self._index.mark_deleted(label)
                self._live[label] = False
                self.live_count -= 1
                self.unsaved += 1

    def sync(self, ids: np.ndarray, vectors: np.ndarray) -> tuple[int, int]:
        """Make the graph hold exactly the faces `ids` (sorted row ids; `vectors` their rows): (added, removed).
        Deleted nodes keep their place in an HNSW graph, so when they outnumber the live ones it is built anew."""
        if self._index is None:
            self.build(ids, vectors)
            return len(ids), 0
        live = np.flatnonzero(self._live)
        gone = np.setdiff1d(live, ids, assume_unique=True)
        new = np.flatnonzero(~np.isin(ids, live, assume_unique=True))
        if self._index.element_count - self.live_count + len(gone) > max(10_000, len(ids)):
            self.build(ids, vectors)
            return len(ids), len(gone)
        self.remove(gone)
        self.add(ids[new], vectors[new])
        return len(new), len(gone)

    @property
    def ready(self) -> bool:
        return self._index is not None

    def search(self, queries: np.ndarray, k: int, ef: int = EF_SEARCH) -> np.ndarray:
        """Labels of the (about) k nearest faces of each query, nearest first; -1 where fewer are live. `ef`: the
        search's beam (at least k)."""
        k = min(k, self.live_count)
        if k <= 0:
            return np.full((len(queries), 0), -1, dtype=np.int64)
        self._index.set_ef(max(ef, k))
        try:
            labels, _ = self._index.knn_query(np.ascontiguousarray(queries, dtype=np.float32), k=k)
        except RuntimeError:  # too few reachable nodes for k (many deleted): ask for what there is
            labels, _ = self._index.knn_query(np.ascontiguousarray(queries, dtype=np.float32), k=max(1, k // 2))
        return labels.astype(np.int64)
