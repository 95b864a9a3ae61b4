"""Search among the local collection's remembered faces (its FaceStore's vectors): the faces nearest a vector, for
`nearest` ("search by face") and for clustering new faces (local_clusters.py).

Below ann.EXACT_BELOW faces it is brute force over the vectors in memory. From there on an HNSW graph (ann.py),
loaded or built on first use and kept in step as faces are remembered or leave, proposes candidates, which are
scored again exactly from the vectors in memory (which come from faces.db): similarities are exact, and a face that
left faces.db is never returned even when the graph has not caught up.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from mediaindex.adapters.faces.ann import EF_PAIRS, EF_SEARCH, FaceGraph
from mediaindex.adapters.faces.local_store import FaceStore, Remembered
from mediaindex.adapters.faces.vectors import as_vector
from mediaindex.domain.face_clusters import FaceRef

# the graph is written back after this many changes (or on close): a crash loses at most these, which the next
# load finds missing from the graph and adds again from faces.db
SAVE_EVERY = 50_000


class FaceSearch:
    """The nearest remembered faces of the store: brute force below `exact_below` faces, the graph from there on."""

    def __init__(self, store: FaceStore, exact_below: int) -> None:
        self.store = store
        self.exact_below = exact_below
        self.graph: FaceGraph | None = None  # loaded or built on first use
        self._graph_synced: Remembered | None = None  # the store's vectors the graph was last brought in step with
        self._ids_cache: tuple[list[int], np.ndarray] | None = None

    @property
    def graph_path(self) -> Path:
        model = re.sub(r"[^A-Za-z0-9._-]", "_", self.store.space.id)
        return self.store.path.with_name(f"{self.store.path.stem}.{model}.hnsw")

    def _graph_for(self, remembered: Remembered) -> FaceGraph | None:
        """The graph in step with these vectors, or None when they are few enough for brute force."""
        ids, _, _, matrix = remembered
        if matrix.size < self.exact_below:
            return None
        if self.graph is None:
            self.graph = FaceGraph(self.graph_path)
            self.graph.load()
        if self._graph_synced is not remembered:
            self.graph.sync(np.asarray(ids, dtype=np.int64), matrix.data[:matrix.size])
            self._graph_synced = remembered
            self.save_graph_if_due()
        return self.graph

    def added(self, remembered: Remembered, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Faces just remembered (already in `remembered`) join the graph, if one is in step with it."""
        if self.graph is not None and self._graph_synced is remembered:
            self.graph.add(np.asarray(ids, dtype=np.int64), vectors)
            self.save_graph_if_due()

    def save_graph_if_due(self, force: bool = False) -> None:
        # a graph just built is saved at once: built from fewer than SAVE_EVERY faces it would otherwise wait for
        # close(), which a command that only searches never reached, so every `faces search` built it again
        if self.graph is not None and self.graph.ready and (self.graph.unsaved >= SAVE_EVERY or self.graph.built
                                                            or (force and self.graph.unsaved)):
            self.graph.save()

    def _ids_array(self, ids: list[int]) -> np.ndarray:
        """The row ids as an array, kept between searches (built again only when the list is another or grew)."""
        cached = self._ids_cache
        if cached is None or cached[0] is not ids or len(cached[1]) > len(ids):
            cached = (ids, np.asarray(ids, dtype=np.int64))
        elif len(cached[1]) < len(ids):
            cached = (ids, np.concatenate([cached[1], np.asarray(ids[len(cached[1]):], dtype=np.int64)]))
        self._ids_cache = cached
        return cached[1]

    def _candidates(self, ids: list[int], graph: FaceGraph, queries: np.ndarray, k: int,
                    ef: int = EF_SEARCH) -> np.ndarray:
        """Positions (in the vectors in memory) of the graph's k candidates for each query, -1 for a label no
        longer remembered (the graph behind faces.db) or missing."""
        labels = graph.search(queries, k, ef=ef)
        known = self._ids_array(ids)
        positions = np.searchsorted(known, labels).clip(0, max(0, len(known) - 1))
        return np.where((labels >= 0) & (known[positions] == labels), positions, -1) if len(known) else labels

    def nearest(self, embedding: Sequence[float], k: int = 10, min_similarity: float | None = None) -> list[tuple[FaceRef, float]]:
        """The k remembered faces closest to `embedding`, best first, with their exact similarity."""
        query = as_vector(embedding, self.store.space)[None, :]
        with self.store.lock:
            remembered = self.store.remembered()
            ids, refs, _, matrix = remembered
            if matrix.size == 0 or k <= 0:
                return []
            graph = self._graph_for(remembered)
            if graph is None:
                top = np.arange(matrix.size)
                squared = matrix.squared_distances(query)[0]
            else:
                top = self._candidates(ids, graph, query, k)[0]
                top = top[top >= 0]
                squared = np.sum((matrix.data[top] - query) ** 2, axis=1)  # exact, from faces.db's vectors
                if len(squared) == 0:
                    return []
        k = min(k, len(squared))
        order = np.argpartition(squared, k - 1)[:k] if k < len(squared) else np.arange(len(squared))
        order = order[np.argsort(squared[order], kind="stable")]
        similarity = self.store.space.similarity(squared[order])
        floor = -1.0 if min_similarity is None else min_similarity
        return [(refs[int(top[i])], round(float(s), 2)) for i, s in zip(order, similarity) if s >= floor]

    def close_pairs(self, rows: list[int], limit: float, k: int = 32) -> Iterator[tuple[int, int]]:
        """Every (row, position) pair of faces within squared distance `limit` of the faces at `rows`, a block at a
        time (a million faces' pairs would not fit in memory): from the graph's k nearest (asked again with 4k
        while all k are that close), else a block of rows against all."""
        remembered = self.store.remembered()
        ids, _, _, matrix = remembered
        graph = self._graph_for(remembered)
        if graph is None:
            block = max(1, min(1024, 64_000_000 // max(1, matrix.size)))  # at most ~256 MB of distances at a time
            for start in range(0, len(rows), block):
                chunk = rows[start:start + block]
                close = matrix.squared_distances(matrix.data[chunk]) <= limit
                yield from ((chunk[r], int(j)) for r, j in zip(*np.nonzero(close)))
            return
        todo, width = np.asarray(rows, dtype=np.int64), k
        while len(todo):
            crowded = []
            for start in range(0, len(todo), 4096):  # bounded memory: 4,096 x k vectors at a time
                part = todo[start:start + 4096]
                positions = self._candidates(ids, graph, matrix.data[part], width, ef=EF_PAIRS)
                squared = np.sum((matrix.data[positions] - matrix.data[part][:, None, :]) ** 2, axis=2)
                near = (squared <= limit) & (positions >= 0)
                full = near.all(axis=1) if positions.shape[1] == width and width < graph.live_count else \
                    np.zeros(len(part), dtype=bool)
                crowded.extend(part[full].tolist())  # every candidate that close: ask again for more
                r, c = np.nonzero(near & ~full[:, None])
                yield from zip(part[r].tolist(), positions[r, c].tolist())
            todo, width = np.asarray(crowded, dtype=np.int64), width * 4
