"""Picture vectors on one machine (the PictureVectors port): an SQLite file beside the index (`vectors.db`), and the
nearest-neighbour search over it in memory.

The file is the store of record: one row per (kind, content, part) with its model, the vector as int8 (unit
length, scaled so that its largest number is 127: a quarter of float32's bytes, cosines within 0.001) and the
layout. Row ids are never given twice (AUTOINCREMENT), so the search graph's labels stay valid.

Search works in two steps, as the face collection's does (adapters/faces/ann.py): candidates from a fixed random
projection of the vectors to PROJECTED numbers (1,280 -> 256: a quarter of the memory and time, the cosine kept
within a few hundredths), exactly below EXACT_BELOW vectors and from an HNSW graph (hnswlib, the face collection's
library) above; then the candidates scored again from the stored vectors. Readers follow writers of other processes
through a change counter in the file: new rows are added to what is in memory; a removal rebuilds it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from mediaindex.adapters.faces.ann import FaceGraph
from mediaindex.adapters.own_files import NotRegularFile, check_regular, disk_full
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError, TransientError
from mediaindex.ports import PictureVector

log = logging.getLogger(__name__)

PROJECTED = 256
EXACT_BELOW = 50_000
OVERSAMPLE = 20  # candidates looked at per result asked for (bench/bench_duplicates.py --scale: recall)
EF_PICTURES = 512  # the graph's search beam: recall@1 1.000 at a million vectors for 1 ms more than 256 (bench sweeps)
_CHUNK = 10_000
_SEED = 20261207  # the projection is part of the file's format: never change it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    part INTEGER NOT NULL,
    model TEXT NOT NULL,
    scale REAL NOT NULL,
    data BLOB NOT NULL,
    layout BLOB,
    UNIQUE (kind, content_sha256, part)
);
CREATE INDEX IF NOT EXISTS vectors_kind_model ON vectors(kind, model, id);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('removals', 0);
"""


def _damaged(error: sqlite3.DatabaseError) -> bool:
    text = str(error).lower()
    return any(w in text for w in ("not a database", "malformed", "disk image", "file is not", "encrypted"))


def default_path(settings: Settings) -> Path:
    """Beside a SQLite index file, else in MEDIAINDEX_HOME (Settings.beside_index)."""
    return settings.beside_index("vectors.db")


def quantize(values: Sequence[float]) -> tuple[float, bytes]:
    v = np.asarray(values, dtype=np.float64)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("a vector of zeros (or not numbers) has no direction")
    v = v / norm
    top = float(np.abs(v).max())
    q = np.clip(np.rint(v * (127.0 / top)), -127, 127).astype(np.int8)
    return top / 127.0, q.tobytes()


def unquantize(data: bytes) -> np.ndarray:
    """The unit vector of stored bytes (float32)."""
    v = np.frombuffer(data, dtype=np.int8).astype(np.float32)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def projection(dimensions: int) -> np.ndarray:
    """The fixed random orthonormal map from `dimensions` to PROJECTED numbers (identity when not larger)."""
    if dimensions <= PROJECTED:
        return np.eye(dimensions, dtype=np.float32)
    rng = np.random.default_rng(_SEED + dimensions)
    q, _ = np.linalg.qr(rng.standard_normal((dimensions, PROJECTED)))
    return q.astype(np.float32)


class _Space:
    """What is in memory for one (kind, model): row ids and the projected unit vectors (the contents and the exact
    vectors stay in the file, read for the few candidates)."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self.map = projection(dimensions)
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, min(dimensions, PROJECTED)), dtype=np.float32)
        self.graph: FaceGraph | None = None
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []

    def project(self, vectors: np.ndarray) -> np.ndarray:
        p = vectors @ self.map
        return p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        projected = self.project(vectors)
        self._pending.append((ids, projected))
        if self.graph is not None and self.graph.ready:
            self.graph.add(ids, projected)

    def settle(self) -> None:
        """Join the chunks added since the last search into the arrays (one copy, not one per chunk)."""
        if self._pending:
            self.ids = np.concatenate([self.ids, *(ids for ids, _ in self._pending)])
            self.matrix = np.concatenate([self.matrix, *(m for _, m in self._pending)])
            self._pending = []


class LocalPictureVectors:
    """The PictureVectors port on `path` (module docstring)."""

    def __init__(self, path: Path | str, graph_dir: Path | None = None) -> None:
        self.path = Path(path)
        self.graph_dir = graph_dir or self.path.parent
        self._local = threading.local()
        self._lock = threading.RLock()
        self._spaces: dict[tuple[str, str], _Space] = {}
        self._seen: tuple[int, int] = (0, -1)  # (highest row id loaded, removals counter) of what is in memory

    # ---- the file ------------------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = self._open()
        except sqlite3.DatabaseError as e:
            if disk_full(e, self.path):
                raise ConfigurationError(f"the disk holding the picture vectors {self.path} is full: free some space "
                                         "and run the command again (nothing was lost)") from None
            if isinstance(e, sqlite3.OperationalError) and not _damaged(e):
                if "locked" in str(e) or "busy" in str(e):
                    raise TransientError(f"the picture vectors {self.path} are busy: {e}") from e
                raise ConfigurationError(f"cannot open the picture vectors {self.path} ({e}): check that its "
                                         "folder exists and is writable") from None
            conn = self._rebuild(e)
        self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        if self.path.exists():
            try:
                check_regular(self.path, self.path.stat())  # a named pipe would hang SQLite's open for ever
            except NotRegularFile as e:
                raise ConfigurationError(f"the picture vectors {self.path}: {e.strerror}; move it aside (the next "
                                         "`mediaindex index` analyses the pictures again for their vectors)") from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 60000")
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(_SCHEMA)
            conn.execute("SELECT count(*) FROM vectors WHERE kind = ''").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def _rebuild(self, error: Exception) -> sqlite3.Connection:
        """A damaged file is moved aside and a new one started: the vectors come back from the pictures, which the
        next `mediaindex index` analyses again for the vectors they miss (the store of record is the files)."""
        import time

        aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        log.warning("the picture vectors %s are damaged (%s): moved aside to %s; the next `mediaindex index` "
                    "analyses the pictures again for their vectors", self.path, error, aside.name)
        for suffix in ("", "-wal", "-shm"):
            found = self.path.with_name(self.path.name + suffix)
            if found.exists():
                found.replace(aside.with_name(aside.name + suffix))
        try:
            return self._open()
        except sqlite3.DatabaseError as e:
            raise ConfigurationError(f"cannot start new picture vectors at {self.path} ({e})") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise TransientError(f"the picture vectors {self.path} are busy: {e}") from e
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    # ---- writing -------------------------------------------------------------------------------------------------
    def remember(self, kind: str, vectors: Sequence[PictureVector]) -> None:
        if not vectors:
            return
        contents = {v.content_sha256 for v in vectors}
        if len(contents) != 1:
            raise ValueError("remember takes the vectors of one content at a time")
        rows = [(kind, v.content_sha256, v.part, v.model, *quantize(v.values), v.layout) for v in vectors]
        with self._write() as conn:
            gone = conn.execute("DELETE FROM vectors WHERE kind = ? AND content_sha256 = ?",
                                (kind, vectors[0].content_sha256)).rowcount
            if gone:
                conn.execute("UPDATE meta SET value = value + 1 WHERE name = 'removals'")
            conn.executemany("""INSERT INTO vectors (kind, content_sha256, part, model, scale, data, layout)
                VALUES (?, ?, ?, ?, ?, ?, ?)""", rows)

    def put_many(self, kind: str, vectors: Iterable[PictureVector]) -> int:
        rows = [(kind, v.content_sha256, v.part, v.model, *quantize(v.values), v.layout) for v in vectors]
        with self._write() as conn:
            replaced = conn.executemany("DELETE FROM vectors WHERE kind = ? AND content_sha256 = ? AND part = ?",
                                        [(kind, r[1], r[2]) for r in rows]).rowcount
            if replaced:
                conn.execute("UPDATE meta SET value = value + 1 WHERE name = 'removals'")
            conn.executemany("""INSERT INTO vectors (kind, content_sha256, part, model, scale, data, layout)
                VALUES (?, ?, ?, ?, ?, ?, ?)""", rows)
        return len(rows)

    def forget(self, kind: str, content_sha256s: Iterable[str]) -> int:
        gone = 0
        with self._write() as conn:
            for sha in content_sha256s:
                gone += conn.execute("DELETE FROM vectors WHERE kind = ? AND content_sha256 = ?", (kind, sha)).rowcount
            if gone:
                conn.execute("UPDATE meta SET value = value + 1 WHERE name = 'removals'")
        return gone

    # ---- reading -------------------------------------------------------------------------------------------------
    def has(self, kind: str, content_sha256: str, model: str) -> bool:
        row = self._connect().execute("SELECT 1 FROM vectors WHERE kind = ? AND content_sha256 = ? AND model = ?",
                                      (kind, content_sha256, model)).fetchone()
        return row is not None

    def vectors_of(self, kind: str, content_sha256: str) -> list[PictureVector]:
        rows = self._connect().execute(
            "SELECT content_sha256, model, data, part, layout FROM vectors WHERE kind = ? AND content_sha256 = ? "
            "ORDER BY part", (kind, content_sha256)).fetchall()
        return [self._vector(row) for row in rows]

    @staticmethod
    def _vector(row: tuple[Any, ...]) -> PictureVector:
        sha, model, data, part, layout = row
        return PictureVector(sha, model, unquantize(data).tolist(), int(part), bytes(layout) if layout else None)

    def iter_vectors(self, kind: str, model: str | None = None, after: int = 0) -> Iterator[tuple[int, PictureVector]]:
        conn = self._connect()
        while True:
            if model is None:
                rows = conn.execute("SELECT id, content_sha256, model, data, part, layout FROM vectors "
                                    "WHERE kind = ? AND id > ? ORDER BY id LIMIT 1000", (kind, after)).fetchall()
            else:
                rows = conn.execute("SELECT id, content_sha256, model, data, part, layout FROM vectors "
                                    "WHERE kind = ? AND model = ? AND id > ? ORDER BY id LIMIT 1000",
                                    (kind, model, after)).fetchall()
            for row in rows:
                after = int(row[0])
                yield after, self._vector(row[1:])
            if len(rows) < 1000:
                return

    def count(self, kind: str) -> int:
        return int(self._connect().execute("SELECT count(*) FROM vectors WHERE kind = ?", (kind,)).fetchone()[0])

    def models(self, kind: str) -> dict[str, int]:
        """Model -> how many vectors of the kind it made."""
        rows = self._connect().execute("SELECT model, count(*) FROM vectors WHERE kind = ? GROUP BY model", (kind,))
        return {model: int(n) for model, n in rows}

    # ---- search --------------------------------------------------------------------------------------------------
    def _space(self, kind: str, model: str) -> _Space | None:
        """The (kind, model) vectors in memory, brought up to date with the file first."""
        conn = self._connect()
        with self._lock:
            top = int(conn.execute("SELECT coalesce(max(id), 0) FROM vectors").fetchone()[0])
            removals = int(conn.execute("SELECT value FROM meta WHERE name = 'removals'").fetchone()[0])
            if removals != self._seen[1]:
                self._spaces = {}
                self._seen = (0, removals)
            if top > self._seen[0]:
                cursor = conn.execute("SELECT id, kind, model, data FROM vectors WHERE id > ? "
                                      "AND id <= ? ORDER BY id", (self._seen[0], top))
                while rows := cursor.fetchmany(_CHUNK):  # a chunk at a time: bounded memory at a million
                    by_space: dict[tuple[str, str], list[tuple[int, bytes]]] = {}
                    for row_id, k, m, data in rows:
                        by_space.setdefault((k, m), []).append((int(row_id), data))
                    for key, chunk in by_space.items():
                        vectors = np.stack([unquantize(data) for _, data in chunk])
                        space = self._spaces.get(key)
                        if space is None:
                            space = self._spaces[key] = _Space(vectors.shape[1])
                        if vectors.shape[1] != space.dimensions:
                            log.warning("vectors of %s with %d numbers beside %d: left out", key,
                                        vectors.shape[1], space.dimensions)
                            continue
                        space.add(np.array([i for i, _ in chunk], dtype=np.int64), vectors)
                self._seen = (top, removals)
            space = self._spaces.get((kind, model))
            if space is not None:
                space.settle()
            if space is not None and len(space.ids) >= EXACT_BELOW and space.graph is None:
                self._graph_for(kind, model, space)
            return space

    def _graph_for(self, kind: str, model: str, space: _Space) -> None:
        import hashlib

        name = hashlib.sha256(f"{kind}|{model}".encode()).hexdigest()[:12]
        graph = FaceGraph(self.graph_dir / f"{self.path.stem}.{kind}.{name}.hnsw", dimensions=space.matrix.shape[1])
        graph.load()
        order = np.argsort(space.ids)
        graph.sync(space.ids[order], space.matrix[order])
        if graph.unsaved:
            try:
                graph.save()
            except OSError as e:  # a cache: searching works without the saved file
                log.warning("the picture search graph %s was not saved (%s)", graph.path, e)
        space.graph = graph

    def nearest(self, kind: str, model: str, values: Sequence[float], k: int = 20,
                min_cosine: float | None = None) -> list[tuple[str, float]]:
        space = self._space(kind, model)
        if space is None or not len(space.ids) or k <= 0:
            return []
        query = np.asarray(values, dtype=np.float32)
        if query.shape[0] != space.dimensions:
            raise ValueError(f"a vector of {query.shape[0]} numbers; {model} vectors have {space.dimensions}")
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        wanted = min(len(space.ids), max(k * OVERSAMPLE, 32))
        projected = space.project(query[np.newaxis])
        if space.graph is not None:
            labels = space.graph.search(projected, wanted, ef=max(EF_PICTURES, wanted))[0]
            candidates = [int(label) for label in labels if label >= 0]
        else:
            scores = space.matrix @ projected[0]
            top = np.argpartition(-scores, wanted - 1)[:wanted] if wanted < len(scores) else np.arange(len(scores))
            candidates = [int(space.ids[i]) for i in top]
        return self._rescored(candidates, query, k, min_cosine)

    def _rescored(self, row_ids: list[int], query: np.ndarray, k: int,
                  min_cosine: float | None) -> list[tuple[str, float]]:
        """The candidates scored exactly from the file, a content once (its best part), best first."""
        best: dict[str, float] = {}
        conn = self._connect()
        for start in range(0, len(row_ids), 500):
            chunk = row_ids[start:start + 500]
            rows = conn.execute(f"SELECT content_sha256, data FROM vectors WHERE id IN ({', '.join('?' * len(chunk))})",
                                chunk).fetchall()
            if not rows:
                continue
            matrix = np.frombuffer(b"".join(data for _, data in rows), dtype=np.int8).reshape(len(rows), -1)
            matrix = matrix.astype(np.float32)
            cosines = (matrix @ query) / np.maximum(np.linalg.norm(matrix, axis=1), 1e-12)
            for (sha, _), cosine in zip(rows, cosines.tolist()):
                if cosine > best.get(sha, -2.0):
                    best[sha] = cosine
        ranked = sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))
        if min_cosine is not None:
            ranked = [(sha, c) for sha, c in ranked if c >= min_cosine]
        return [(sha, round(c, 4)) for sha, c in ranked[:k]]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
