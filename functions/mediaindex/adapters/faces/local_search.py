"""Search among the local collection's remembered faces: the part of LocalFaceCollection that finds the faces
nearest a vector, for `nearest` ("search by face") and for clustering new faces.

Below ann.EXACT_BELOW faces it is brute force over the vectors in memory. From there on an HNSW graph (ann.py),
loaded or built on first use and kept in step as faces are remembered or leave, proposes candidates, which are
scored again exactly from the vectors in memory (which come from faces.db): similarities are exact, and a face that
left faces.db is never returned even when the graph has not caught up.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from mediaindex.adapters.faces.ann import FaceGraph
from mediaindex.adapters.faces.vectors import VectorMatrix, as_vector
from mediaindex.domain.face_clusters import FaceRef
from mediaindex.domain.face_vectors import VectorSpace

# the graph is written back after this many changes (or on close): a crash loses at most these, which the next
# load finds missing from the graph and adds again from faces.db
SAVE_EVERY = 50_000


class FaceSearch:
    """Mixed into LocalFaceCollection, whose file, lock and cached vectors it uses (declared below)."""

    path: Path
    space: VectorSpace
    exact_below: int
    _lock: threading.RLock
    _remembered: Any
    _remembered_vectors: Callable[[], tuple[list[int], list[FaceRef], list[int], VectorMatrix]]
    _graph: FaceGraph | None = None
    _graph_synced: Any = None  # the _remembered tuple the graph was last brought in step with

    @property
    def graph_path(self) -> Path:
        model = re.sub(r"[^A-Za-z0-9._-]", "_", self.space.id)
        return self.path.with_name(f"{self.path.stem}.{model}.hnsw")

    def _graph_for(self, remembered: tuple[list[int], list[FaceRef], list[int], VectorMatrix]) -> FaceGraph | None:
        """The graph in step with these vectors, or None when they are few enough for brute force."""
        ids, _, _, matrix = remembered
        if matrix.size < self.exact_below:
            return None
        if self._graph is None:
            self._graph = FaceGraph(self.graph_path)
            self._graph.load()
        if self._graph_synced is not remembered:
            self._graph.sync(np.asarray(ids, dtype=np.int64), matrix.data[:matrix.size])
            self._graph_synced = remembered
            self._save_graph_if_due()
        return self._graph

    def _graph_added(self, remembered: Any, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Faces just remembered (already in `remembered`) join the graph, if one is in step with it."""
        if self._graph is not None and self._graph_synced is remembered:
            self._graph.add(np.asarray(ids, dtype=np.int64), vectors)
            self._save_graph_if_due()

    def _save_graph_if_due(self, force: bool = False) -> None:
        if self._graph is not None and self._graph.ready and (self._graph.unsaved >= SAVE_EVERY or
                                                              (force and self._graph.unsaved)):
            self._graph.save()

    def _candidates(self, ids: list[int], graph: FaceGraph, queries: np.ndarray, k: int) -> list[list[int]]:
        """Positions (in the vectors in memory) of the graph's k candidates for each query, still remembered."""
        found = graph.search(queries, k)
        out = []
        for labels in found:
            positions = []
            for label in labels:
                p = bisect_left(ids, int(label))
                if p < len(ids) and ids[p] == label:
                    positions.append(p)
            out.append(positions)
        return out

    def nearest(self, embedding: Sequence[float], k: int = 10, min_similarity: float | None = None) -> list[tuple[FaceRef, float]]:
        """The k remembered faces closest to `embedding`, best first, with their exact similarity."""
        query = as_vector(embedding, self.space)[None, :]
        with self._lock:
            remembered = self._remembered_vectors()
            ids, refs, _, matrix = remembered
            if matrix.size == 0 or k <= 0:
                return []
            graph = self._graph_for(remembered)
            if graph is None:
                top = np.arange(matrix.size)
                squared = matrix.squared_distances(query)[0]
            else:
                top = np.asarray(self._candidates(ids, graph, query, k)[0], dtype=np.int64)
                squared = np.sum((matrix.data[top] - query) ** 2, axis=1)  # exact, from faces.db's vectors
                if len(squared) == 0:
                    return []
        k = min(k, len(squared))
        order = np.argpartition(squared, k - 1)[:k] if k < len(squared) else np.arange(len(squared))
        order = order[np.argsort(squared[order], kind="stable")]
        similarity = self.space.similarity(squared[order])
        floor = -1.0 if min_similarity is None else min_similarity
        return [(refs[int(top[i])], round(float(s), 2)) for i, s in zip(order, similarity) if s >= floor]

    def close_pairs(self, rows: list[int], limit: float, k: int = 32) -> list[tuple[int, int]]:
        """Every (row, position) pair of faces within squared distance `limit` of the faces at `rows`: from the
        graph's k nearest (asked again with 4k while all k are that close), else one block against all."""
        remembered = self._remembered_vectors()
        ids, _, _, matrix = remembered
        graph = self._graph_for(remembered)
        pairs: list[tuple[int, int]] = []
        if graph is None:
            block = max(1, min(1024, 64_000_000 // max(1, matrix.size)))  # at most ~256 MB of distances at a time
            for start in range(0, len(rows), block):
                part = rows[start:start + block]
                close = matrix.squared_distances(matrix.data[part]) <= limit
                pairs.extend((part[r], int(j)) for r, j in zip(*np.nonzero(close)))
            return pairs
        todo, width = list(rows), k
        while todo:
            crowded = []
            for row, positions in zip(todo, self._candidates(ids, graph, matrix.data[todo], width)):
                p = np.asarray(positions, dtype=np.int64)
                squared = np.sum((matrix.data[p] - matrix.data[row]) ** 2, axis=1)
                near = p[squared <= limit]
                pairs.extend((row, int(j)) for j in near)
                if len(near) == len(p) == width and width < graph.live_count:
                    crowded.append(row)
            if crowded:
                again = set(crowded)
                pairs = [pair for pair in pairs if pair[0] not in again]
            todo, width = crowded, width * 4
        return pairs
