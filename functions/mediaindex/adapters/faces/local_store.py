"""The face collection's SQLite file (`faces.db`): its tables, the columns later versions added, where it lives, and
`FaceStore`, the file opened with the vectors of one space read from it into memory.

- `enrolled`: the faces of known people (face_id, person, source file, embedding, model);
- `remembered`: every face of every analysed picture (content_sha256, face index, box, embedding, cluster, model);
- `hidden`: boxes marked "not a face" (content_sha256, box), dropped whenever those bytes are indexed again;
- `cluster_apart`: pairs of faces whose clusters were split by hand and are never joined again;
- `pending_rematch`: changes whose re-match of the documents is owed;
- `face_id_high`: the highest `remembered` row id ever given, so that no id is given twice (the search graph's
  labels, ann.py).
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from mediaindex.adapters.faces.vectors import DIMENSIONS, VectorMatrix
from mediaindex.adapters.own_files import check_regular, disk_full
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError, TransientError
from mediaindex.domain.face_clusters import FaceRef
from mediaindex.domain.face_vectors import VectorSpace

# The vectors of the space in memory: enrolled (face ids, people, vectors), remembered (row ids, refs, clusters,
# vectors); each list in the order of the matrix's rows.
Enrolled = tuple[list[str], list[str], VectorMatrix]
Remembered = tuple[list[int], list[FaceRef], list[int], VectorMatrix]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS enrolled (
    face_id TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    source TEXT NOT NULL,
    embedding BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS enrolled_person ON enrolled(person);
CREATE INDEX IF NOT EXISTS enrolled_source ON enrolled(source);
CREATE TABLE IF NOT EXISTS remembered (
    id INTEGER PRIMARY KEY,
    content_sha256 TEXT NOT NULL,
    face_index INTEGER NOT NULL,
    box TEXT NOT NULL,
    embedding BLOB NOT NULL,
    cluster INTEGER NOT NULL,
    UNIQUE (content_sha256, face_index)
);
CREATE TABLE IF NOT EXISTS pending_rematch (
    id INTEGER PRIMARY KEY,
    person TEXT
);
CREATE TABLE IF NOT EXISTS hidden (
    id INTEGER PRIMARY KEY,
    content_sha256 TEXT NOT NULL,
    box TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS hidden_content ON hidden(content_sha256);
CREATE TABLE IF NOT EXISTS face_id_high (high INTEGER NOT NULL);
INSERT INTO face_id_high (high) SELECT coalesce((SELECT max(id) FROM remembered), 0)
    WHERE NOT EXISTS (SELECT 1 FROM face_id_high);
CREATE TABLE IF NOT EXISTS cluster_apart (
    a INTEGER NOT NULL,
    b INTEGER NOT NULL,
    PRIMARY KEY (a, b)
);
"""
# Files made before vectors knew their model hold dlib's vectors only: the new column says so for their rows.
_MIGRATIONS = (
    ("enrolled", "ALTER TABLE enrolled ADD COLUMN model TEXT NOT NULL DEFAULT 'dlib-resnet-v1'"),
    ("remembered", "ALTER TABLE remembered ADD COLUMN model TEXT NOT NULL DEFAULT 'dlib-resnet-v1'"),
)


def default_path(settings: Settings) -> Path:
    """Beside a SQLite index file (so each index has its own people), else in MEDIAINDEX_HOME."""
    return settings.beside_index("faces.db")


def open_database(path: Path) -> sqlite3.Connection:
    """The file at `path`, created or brought up to the current schema; autocommit (transactions are explicit)."""
    try:
        if path.exists():
            check_regular(path, path.stat())  # a named pipe would hang SQLite's open for ever
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        try:
            _prepare(db)
        except BaseException:
            db.close()
            raise
    except (OSError, sqlite3.Error) as e:
        if disk_full(e, path):
            raise ConfigurationError(f"the disk holding the face collection {path} is full: free some space and "
                                     "run the command again (nothing was lost)") from None
        raise ConfigurationError(f"cannot open the face collection {path}: {getattr(e, 'strerror', None) or e}"
                                 ) from None
    return db


def _prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    # as the index: with a write-ahead log, NORMAL loses nothing when the process dies, and spares an fsync
    # per indexed picture with faces
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    for table, sql in _MIGRATIONS:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if "model" not in columns:
            db.execute(sql)
    # one index serves the model filter and the clusters (sizes counted from it alone, a cluster's faces found by it);
    # older files had one index on each column, which it replaces
    db.execute("CREATE INDEX IF NOT EXISTS remembered_model_cluster ON remembered(model, cluster)")
    db.execute("DROP INDEX IF EXISTS remembered_model")
    db.execute("DROP INDEX IF EXISTS remembered_cluster")


def _vectors(blobs: list[bytes]) -> np.ndarray:
    """Stored embeddings (float32 bytes) as one matrix, a row each."""
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), DIMENSIONS)


class FaceStore:
    """faces.db, opened on first use, and the vectors of `space` read from it into memory, kept until this process
    changes them (the writer updates or forgets them) or another one does (SQLite's data_version moves). The local
    collection, its search and its clusters share one store and its lock."""

    def __init__(self, path: Path, space: VectorSpace) -> None:
        self.path, self.space = path, space
        self.lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._seen_version: int | None = None
        self._enrolled: Enrolled | None = None
        self._remembered: Remembered | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = open_database(self.path)
        return self._db

    def close(self) -> None:
        with self.lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def forget_enrolled(self) -> None:
        self._enrolled = None

    def forget_remembered(self) -> None:
        self._remembered = None

    @contextmanager
    def transaction(self, forget: Callable[[], None] | None = None,
                    busy_is_transient: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any exception, after which `forget` drops
        the vectors in memory that no longer match the file). With `busy_is_transient`, a file another process keeps
        locked past the timeout is a passing fault."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if not busy_is_transient:
                raise
            raise TransientError(f"the face collection {self.path} is busy ({e}); the file is indexed again on the "
                                 "next run") from None
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            if forget is not None:
                forget()
            raise

    def _fresh(self) -> None:
        """Drop the vectors in memory when another process changed the file (data_version moves only for other
        connections' commits, so our own writes, already applied in memory, keep them)."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._seen_version:
            self._seen_version = version
            self._enrolled = None
            self._remembered = None

    def enrolled(self) -> Enrolled:
        self._fresh()
        if self._enrolled is None:
            rows = self.db.execute("SELECT face_id, person, embedding FROM enrolled WHERE model = ? ORDER BY rowid",
                                   (self.space.id,)).fetchall()
            matrix = VectorMatrix(max(16, len(rows)))
            if rows:
                matrix.extend(_vectors([r[2] for r in rows]))
            self._enrolled = ([r[0] for r in rows], [r[1] for r in rows], matrix)
        return self._enrolled

    def remembered(self) -> Remembered:
        """The remembered faces of the space; the same tuple (its lists grown in place by the writer) until they are
        forgotten, so a search graph can tell whether it is in step with them."""
        self._fresh()
        if self._remembered is None:
            ids: list[int] = []
            refs: list[FaceRef] = []
            clusters: list[int] = []
            count = self.db.execute("SELECT count(*) FROM remembered WHERE model = ?", (self.space.id,)).fetchone()[0]
            matrix = VectorMatrix(max(1024, count))
            cursor = self.db.execute("SELECT id, content_sha256, face_index, cluster, embedding FROM remembered "
                                     "WHERE model = ? ORDER BY id", (self.space.id,))
            while True:
                rows = cursor.fetchmany(50_000)
                if not rows:
                    break
                ids.extend(r[0] for r in rows)
                refs.extend(FaceRef(r[1], r[2]) for r in rows)
                clusters.extend(r[3] for r in rows)
                matrix.extend(_vectors([r[4] for r in rows]))
            self._remembered = (ids, refs, clusters, matrix)
        return self._remembered
