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
import mmap
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from mediaindex.adapters.own_files import disk_full, open_regular, read_regular, remove_abandoned

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
    with open_regular(path) as f:  # a named pipe in its place is refused, not waited on
        while chunk := f.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return crc


_HEADER = struct.Struct("<6Qi I 3Q d Q")  # hnswlib's saveIndex: offsetLevel0 ... ef_construction (96 bytes)
_MAX_LEVEL = 64  # a level is drawn as -ln(U) / ln(M): above 64 has odds below 16^-64


def check_graph(path: Path, dimensions: int) -> int:
    """Check that the file is an hnswlib graph of this shape whose every link names a node of it, before hnswlib
    loads it: hnswlib reads a file's link ids without checking them, and follows them in memory when it searches
    (a crafted file segfaults the process). The manifest's CRC-32 detects rot, not a forger, who can write both; a
    key to sign the files with would sit in the same folder, readable by whoever can write there. So the file's
    structure is what is trusted, as hnswlib would need it: returns the number of nodes; raises ValueError."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size < _HEADER.size:
            raise ValueError("shorter than its header")
        raw = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
    (level0_at, max_elements, count, per_element, label_at, data_at, max_level, entry, max_m, max_m0, m, _mult,
     _ef) = _HEADER.unpack_from(raw)
    level0_links = max_m0 * 4 + 4
    if (level0_at, data_at, label_at, per_element) != (0, level0_links, level0_links + 4 * dimensions,
                                                       level0_links + 4 * dimensions + 8) \
            or not 2 <= m <= 1024 or max_m != m or max_m0 != 2 * m:
        raise ValueError("not a graph of this layout")
    if count > max_elements or max_elements > 4 * count + 4096 or not 0 <= max_level <= _MAX_LEVEL \
            or (count and entry >= count):
        raise ValueError("sizes out of range")
    at = _HEADER.size + count * per_element
    if size < at or (size - at) % 4:
        raise ValueError("truncated")
    nodes = np.frombuffer(raw, np.uint8, count * per_element, _HEADER.size).reshape(count, per_element)
    for start in range(0, count, 65_536):  # per node: its count (low 16 bits), then its links; bounded memory
        lists = nodes[start:start + 65_536, :level0_links].copy().view("<u4")
        found = lists[:, 0] & 0xFFFF
        if np.any(found > max_m0) or np.any(lists[:, 1:][np.arange(max_m0) < found[:, None]] >= count):
            raise ValueError("a link of level 0 names no node")
    # then each node's lists above level 0: their size in bytes (0 for most nodes), then the lists
    tail = np.frombuffer(raw, "<u4", (size - at) // 4, at)
    starts = np.flatnonzero(tail)  # where the next node with upper levels may begin (searched from i on)
    words = max_m + 1
    i = node = levels_top = 0
    block_starts, block_levels = [], []  # where each node's upper lists begin in `tail`, and how many
    while node < count:  # only positions here (one step a node with upper levels); the links are checked below
        k = int(np.searchsorted(starts, i))
        skip = min((int(starts[k]) if k < len(starts) else len(tail)) - i, count - node)
        node, i = node + skip, i + skip  # nodes of level 0 only
        if node == count:
            break
        if i >= len(tail):
            raise ValueError("truncated")
        levels, rest = divmod(int(tail[i]), 4 * words)
        i += 1
        if rest or not 0 < levels <= max_level or i + levels * words > len(tail):
            raise ValueError("levels out of range")
        block_starts.append(i)
        block_levels.append(levels)
        if node == entry:
            levels_top = levels
        i, node = i + levels * words, node + 1
    if block_starts:
        levels_of = np.asarray(block_levels, dtype=np.int64)
        first = np.repeat(np.asarray(block_starts, dtype=np.int64), levels_of)
        within = np.arange(len(first)) - np.repeat(np.cumsum(levels_of) - levels_of, levels_of)
        heads = first + within * words  # each list's count word
        found = tail[heads] & 0xFFFF
        if np.any(found > max_m):
            raise ValueError("a list of an upper level is too long")
        for part in range(0, len(heads), 65_536):
            rows = heads[part:part + 65_536]
            links = tail[rows[:, None] + 1 + np.arange(max_m)]
            if np.any(links[np.arange(max_m) < found[part:part + 65_536, None]] >= count):
                raise ValueError("a link of an upper level names no node")
    if i != len(tail) or (count and levels_top != max_level):
        raise ValueError("sizes do not add up")
    return count


class FaceGraph:
    """An HNSW graph over 128-d float32 vectors labelled by row id, with the set of live labels beside it."""

    def __init__(self, path: Path, dimensions: int = 128) -> None:
        self.path = path
        self.dimensions = dimensions
        self._index: Any = None  # an hnswlib.Index (untyped) once loaded or built
        self._live = np.zeros(0, dtype=bool)  # indexed by row id: is that face in the graph (not deleted)?
        self.live_count = 0
        self.unsaved = 0  # changes since the file was written
        self.built = False  # built here since it was last saved or loaded: worth saving at once

    # ---- files ---------------------------------------------------------------------------------------------------
    @property
    def _labels_path(self) -> Path:
        return self.path.with_name(self.path.name + ".ids.npy")

    @property
    def _manifest_path(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def _files(self) -> tuple[Path, Path, Path]:
        return self.path, self._labels_path, self._manifest_path

    def save(self) -> bool:
        """Graph, labels, then the manifest that vouches for both (each written aside and renamed into place): a
        crash at any point leaves a manifest that does not match, and the next load builds the graph again. A place
        that cannot be written (a folder where the file goes, no permission, a full disk) costs the next process a
        build: a warning, the temporary files removed, False."""
        if self._index is None:
            return False
        for target in self._files():  # temporary files of saves killed before they finished
            remove_abandoned(str(target))
        suffix = f".{os.getpid()}.tmp"
        graph_tmp, labels_tmp, manifest_tmp = (p.with_name(p.name + suffix) for p in self._files())
        try:
            self._index.save_index(str(graph_tmp))
            with open(labels_tmp, "wb") as f:
                np.save(f, np.flatnonzero(self._live).astype(np.int64))
            manifest = {"format": 1, "dimensions": self.dimensions, "live": self.live_count,
                        "graph": [os.path.getsize(graph_tmp), _crc32(graph_tmp)],
                        "labels": [os.path.getsize(labels_tmp), _crc32(labels_tmp)]}
            manifest_tmp.write_text(json.dumps(manifest))
            self._manifest_path.unlink(missing_ok=True)
            os.replace(graph_tmp, self.path)
            os.replace(labels_tmp, self._labels_path)
            os.replace(manifest_tmp, self._manifest_path)
        except (OSError, RuntimeError) as e:  # hnswlib says RuntimeError when it cannot open or write its file
            for leftover in (graph_tmp, labels_tmp, manifest_tmp):
                try:
                    os.unlink(leftover)
                except OSError:
                    pass
            reason = "the disk is full" if disk_full(e, self.path) else str(e)
            log.warning("the face search graph was not saved to %s (%s): the next process builds it again",
                        self.path, reason)
            return False
        self.unsaved, self.built = 0, False
        return True

    def load(self) -> bool:
        """The saved graph, if its manifest vouches for its files and its structure is sound (check_graph); False
        (nothing loaded) otherwise."""
        import hnswlib

        try:
            for target in self._files():
                remove_abandoned(str(target))
            manifest = json.loads(read_regular(self._manifest_path, 1 << 20))
            for path, (size, crc) in ((self.path, manifest["graph"]), (self._labels_path, manifest["labels"])):
                if os.path.getsize(path) != size or _crc32(path) != crc:
                    raise ValueError(f"{path.name} does not match its manifest")
            if manifest["dimensions"] != self.dimensions:
                raise ValueError("vectors of another size")
            with open_regular(self._labels_path) as f:
                labels = np.load(f, allow_pickle=False)
            nodes = check_graph(self.path, self.dimensions)
            if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) > nodes or (len(labels) and (
                    labels.min() < 0 or labels.max() >= 1 << 40 or np.any(np.diff(labels) <= 0))):
                raise ValueError("labels out of range")  # sorted, unique, of row ids
            index = hnswlib.Index(space="l2", dim=self.dimensions)
            index.load_index(str(self.path))
            if len(labels) and not np.isin(labels, index.get_ids_list()).all():
                raise ValueError("labels the graph does not hold")
        except FileNotFoundError:
            return False
        except Exception as e:  # noqa: BLE001 - any unreadable graph is built again from faces.db
            log.warning("the face search graph %s cannot be used (%s): building it again", self.path, e)
            return False
        index.set_num_threads(THREADS)
        index.set_ef(EF_SEARCH)
        self._index = index
        self._live = np.zeros(int(labels.max()) + 1 if len(labels) else 0, dtype=bool)
        self._live[labels.astype(np.int64)] = True
        self.live_count = int(len(labels))
        self.unsaved, self.built = 0, False
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
        self.built = True

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
