"""Known people on one machine: face vectors from the local analyzer, matched by exact brute force with NumPy.

One SQLite file (`faces.db`, beside the index) holds:
- `enrolled`: the faces of known people (face_id, person, source file, embedding);
- `remembered`: every face of every analysed picture (content_sha256, face index, box, embedding, cluster), so
  that enrolling or forgetting a person re-matches the library from these vectors without analysing anything again,
  "search by face" finds files without enrolment, and unnamed faces can be grouped into clusters;
- `hidden`: boxes marked "not a face" (content_sha256, box), dropped whenever those bytes are indexed again;
- `cluster_apart`: pairs of faces whose clusters were split by hand and are never joined again;
- `pending_rematch`: changes whose re-match of the documents is owed.

Every vector is stored with its model (its space, domain/face_vectors.py): the collection matches only vectors of
the space the analyzer makes now, so vectors of two models are never compared. Vectors of an older model wait for
their file to be analysed again (`mediaindex index` does it) or, for enrolment photos, for `re_embed` to read the
photo again; `stale()` says what is left. Similarity is the space's 0-100 scale, on which the default threshold, 80,
is the model's measured same-person boundary. Matching is exact (recall 1.0): one float32 matrix-vector product over
all vectors, about 30 ms for a million faces on two cores (bench/bench_faces.py measures it).

Clusters are the connected groups of remembered faces within the match threshold of one another (single linkage).
They are computed when first asked for, for all faces remembered since, a block of faces against all the others at a
time (one matrix product), so indexing never pays for them. A cluster's id is `c<row id of its oldest face>`: it
never changes as the cluster grows, and when two clusters are joined by a new face the older id stays.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from mediaindex.config import Settings
from mediaindex.domain import face_vectors
from mediaindex.domain.errors import BadMedia, ConfigurationError, TransientError
from mediaindex.domain.face_vectors import VectorSpace
from mediaindex.domain.model import Box, Face, FaceMatch
from mediaindex.media.picture import Picture

DIMENSIONS = 128  # SFace's and dlib's face embeddings alike
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
CREATE INDEX IF NOT EXISTS remembered_cluster ON remembered(cluster);
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


@dataclass(frozen=True)
class FaceRef:
    """One remembered face: the picture's content hash and the face's position in its analysis."""

    content_sha256: str
    face_index: int


@dataclass
class ClusterMember:
    ref: FaceRef
    box: Box
    embedding: np.ndarray


def default_path(settings: Settings) -> Path:
    """Beside a SQLite index file (so each index has its own people), else in MEDIAINDEX_HOME."""
    url = settings.resolved_index_url
    if url.startswith("sqlite:///"):
        raw = url[len("sqlite:///"):]
        if raw and raw != ":memory:":
            index_path = Path(raw).expanduser()
            name = "faces.db" if index_path.stem == "index" else f"{index_path.stem}.faces.db"
            return index_path.parent / name
    return Path(settings.home).expanduser() / "faces.db"


def _vector(embedding: Sequence[float] | np.ndarray, space: VectorSpace) -> np.ndarray:
    v = np.asarray(embedding, dtype=np.float32).reshape(-1)
    if v.shape[0] != space.dimensions:
        raise ConfigurationError(
            f"a face vector of {v.shape[0]} numbers: {space.id} vectors have {space.dimensions}"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError("a face vector with a NaN or infinite number")
    if space.metric == "cosine":  # compared as unit vectors (a video track's mean is shorter than its members)
        v = v / max(float(np.linalg.norm(v)), 1e-12)
    return v


class _Matrix:
    """A growable float32 matrix of vectors with their squared norms, for distances by one matrix product."""

    def __init__(self, capacity: int = 1024) -> None:
        self.data = np.empty((capacity, DIMENSIONS), dtype=np.float32)
        self.norms = np.empty(capacity, dtype=np.float32)
        self.size = 0

    def extend(self, vectors: np.ndarray) -> None:
        needed = self.size + len(vectors)
        if needed > len(self.data):
            capacity = max(needed, 2 * len(self.data))
            data = np.empty((capacity, DIMENSIONS), dtype=np.float32)
            norms = np.empty(capacity, dtype=np.float32)
            data[: self.size], norms[: self.size] = self.data[: self.size], self.norms[: self.size]
            self.data, self.norms = data, norms
        self.data[self.size:needed] = vectors
        self.norms[self.size:needed] = np.einsum("ij,ij->i", vectors, vectors)
        self.size = needed

    def squared_distances(self, queries: np.ndarray) -> np.ndarray:
        """Squared L2 distances, shape (len(queries), size); callers take square roots of the few they keep."""
        if self.size == 0:
            return np.empty((len(queries), 0), dtype=np.float32)
        q = np.asarray(queries, dtype=np.float32)
        squared = q @ self.data[: self.size].T
        squared *= -2.0
        squared += self.norms[: self.size][None, :]
        squared += np.einsum("ij,ij->i", q, q)[:, None]
        return squared

    def distances(self, queries: np.ndarray) -> np.ndarray:
        return np.sqrt(np.maximum(self.squared_distances(queries), 0.0))


class LocalFaceCollection:
    """The FaceCollection port on a SQLite file and NumPy. Safe to share between threads of one process; other
    processes' writes are noticed (SQLite's data_version) and the in-memory vectors reloaded."""

    def __init__(self, settings: Settings, path: str | Path | None = None, analyzer: Any = None,
                 space: VectorSpace | None = None) -> None:
        self.settings = settings
        self.space = space or face_vectors.DEFAULT  # the model whose vectors are matched; others wait (stale())
        self.threshold = float(settings.face_match_threshold)
        self.path = Path(path) if path is not None else default_path(settings)
        self._analyzer = analyzer  # only for enroll(picture) without faces; built lazily (loading models is slow)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._seen_version: int | None = None
        self._enrolled: tuple[list[str], list[str], _Matrix] | None = None  # face ids, people, vectors
        self._remembered: tuple[list[int], list[FaceRef], list[int], _Matrix] | None = None  # row ids, refs, clusters

    # ---- storage -------------------------------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
            except (OSError, sqlite3.Error) as e:
                raise ConfigurationError(f"cannot open the face collection {self.path}: {e}") from None
            db.execute("PRAGMA journal_mode=WAL")
            # as the index: with a write-ahead log, NORMAL loses nothing when the process dies, and spares an fsync
            # per indexed picture with faces
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            for table, sql in _MIGRATIONS:
                columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if "model" not in columns:
                    db.execute(sql)
            db.execute("CREATE INDEX IF NOT EXISTS remembered_model ON remembered(model)")
            self._db = db
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @contextmanager
    def _transaction(self, forget: str | None = None, busy_is_transient: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any exception, after which the cached
        vectors named by `forget`, "_enrolled" or "_remembered", no longer match the file and are dropped). With
        `busy_is_transient`, a file another process keeps locked past the timeout is a passing fault."""
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
                setattr(self, forget, None)
            raise

    def _fresh(self) -> None:
        """Drop the cached vectors when another process changed the file (data_version moves only for other
        connections' commits, so our own writes, already applied to the cache, keep it)."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._seen_version:
            self._seen_version = version
            self._enrolled = None
            self._remembered = None

    def _enrolled_vectors(self) -> tuple[list[str], list[str], _Matrix]:
        self._fresh()
        if self._enrolled is None:
            rows = self.db.execute("SELECT face_id, person, embedding FROM enrolled WHERE model = ? ORDER BY rowid",
                                   (self.space.id,)).fetchall()
            matrix = _Matrix(max(16, len(rows)))
            if rows:
                matrix.extend(np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), DIMENSIONS))
            self._enrolled = ([r[0] for r in rows], [r[1] for r in rows], matrix)
        return self._enrolled

    def _remembered_vectors(self) -> tuple[list[int], list[FaceRef], list[int], _Matrix]:
        self._fresh()
        if self._remembered is None:
            ids: list[int] = []
            refs: list[FaceRef] = []
            clusters: list[int] = []
            count = self.db.execute("SELECT count(*) FROM remembered WHERE model = ?", (self.space.id,)).fetchone()[0]
            matrix = _Matrix(max(1024, count))
            cursor = self.db.execute("SELECT id, content_sha256, face_index, cluster, embedding FROM remembered "
                                     "WHERE model = ? ORDER BY id", (self.space.id,))
            while True:
                rows = cursor.fetchmany(50_000)
                if not rows:
                    break
                ids.extend(r[0] for r in rows)
                refs.extend(FaceRef(r[1], r[2]) for r in rows)
                clusters.extend(r[3] for r in rows)
                matrix.extend(np.frombuffer(b"".join(r[4] for r in rows), dtype=np.float32).reshape(len(rows), DIMENSIONS))
            self._remembered = (ids, refs, clusters, matrix)
        return self._remembered

    # ---- the FaceCollection port ---------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        with self._lock:
            return not self._enrolled_vectors()[0]

    def _ours(self, face: Face) -> bool:
        """Does this face's vector belong to the space we match in? (A face that does not say is taken as ours.)"""
        return face.embedding is not None and face.embedding_space in (None, self.space.id)

    def identify(self, picture: Picture | None, faces: Sequence[Face]) -> tuple[list[FaceMatch | None], int]:
        """Best enrolled match above the threshold for each face with a vector of our space; no paid calls."""
        wanted = [i for i, f in enumerate(faces) if self._ours(f)]
        matches: list[FaceMatch | None] = [None] * len(faces)
        if wanted:
            found = self.match_embeddings([faces[i].embedding for i in wanted])  # type: ignore[misc]
            for i, match in zip(wanted, found):
                matches[i] = match
        return matches, 0

    def remember(self, content_sha256: str, faces: Sequence[Face]) -> None:
        """Keep each face's vector and box under the picture's content hash (its cluster is worked out later)."""
        rows = [(content_sha256, i, f.box, f.embedding) for i, f in enumerate(faces) if self._ours(f)]
        if rows:
            self.import_faces(rows)

    def import_faces(self, rows: Iterable[tuple[str, int, Box, Sequence[float]]]) -> int:
        """Remember faces (content_sha256, face index, box, embedding); a face already remembered for the same bytes
        is kept as it is. How many were new."""
        added = 0
        with self._lock:
            ids, refs, clusters, matrix = self._remembered_vectors()
            new_ids: list[int] = []
            new_refs: list[FaceRef] = []
            new_vectors: list[np.ndarray] = []
            with self._transaction(forget="_remembered", busy_is_transient=True) as db:
                replaced: set[str] = set()
                for sha, index, box, embedding in rows:
                    vector = _vector(embedding, self.space)
                    if sha not in replaced:  # the picture analysed again by a newer model: its old vectors go
                        db.execute("DELETE FROM remembered WHERE content_sha256 = ? AND model != ?", (sha, self.space.id))
                        replaced.add(sha)
                    cursor = db.execute(
                        "INSERT OR IGNORE INTO remembered (content_sha256, face_index, box, embedding, cluster, model) "
                        "VALUES (?, ?, ?, ?, 0, ?)",
                        (sha, index, json.dumps(_box_json(box)), vector.tobytes(), self.space.id),
                    )
                    if cursor.rowcount == 0:
                        continue  # the same picture was analysed before: its faces are already remembered
                    new_ids.append(cursor.lastrowid)
                    new_refs.append(FaceRef(sha, index))
                    new_vectors.append(vector)
            if new_ids:
                ids.extend(new_ids)
                refs.extend(new_refs)
                clusters.extend([0] * len(new_ids))  # 0: not clustered yet
                matrix.extend(np.stack(new_vectors))
                added = len(new_ids)
        return added

    def _cluster_pending(self) -> None:
        """Put every face not clustered yet into its cluster: union-find over the pairs within the threshold,
        found a block of new faces against all faces at a time; the oldest face's id names each cluster."""
        with self._lock:
            ids, _, clusters, matrix = self._remembered_vectors()
            pending = [i for i, c in enumerate(clusters) if c == 0]
            if not pending:
                return
            parent: dict[int, int] = {}

            def find(x: int) -> int:
                root = x
                while parent.get(root, root) != root:
                    root = parent[root]
                while parent.get(x, x) != root:  # path compression
                    parent[x], x = root, parent[x]
                return root

            def label(i: int) -> int:
                return clusters[i] or ids[i]

            # clusters split by hand (split_cluster): a pair of faces whose clusters are never joined again
            apart = self._apart_pairs(ids)

            def separated(a: int, b: int) -> bool:
                for x, y in apart:
                    rx, ry = find(label(x)), find(label(y))
                    if {rx, ry} == {a, b}:
                        return True
                return False

            limit = self.space.squared_distance_for(self.threshold)
            block = max(1, min(1024, 64_000_000 // max(1, matrix.size)))  # at most ~256 MB of distances at a time
            for start in range(0, len(pending), block):
                rows = pending[start:start + block]
                close = matrix.squared_distances(matrix.data[rows]) <= limit
                for r, j in zip(*np.nonzero(close)):
                    a, b = find(label(rows[r])), find(label(int(j)))
                    if a != b and not (apart and separated(a, b)):
                        parent[max(a, b)] = min(a, b)
            changed: list[tuple[int, int]] = []
            for i in range(len(clusters)):
                new = find(label(i))
                if new != clusters[i]:
                    clusters[i] = new
                    changed.append((new, ids[i]))
            with self._transaction(forget="_remembered") as db:
                db.executemany("UPDATE remembered SET cluster = ? WHERE id = ?", changed)

    # ---- matching ------------------------------------------------------------------------------------------------
    def match_embeddings(self, embeddings: Sequence[Sequence[float]]) -> list[FaceMatch | None]:
        """For each vector, the best enrolled face at or above the threshold, or None."""
        with self._lock:
            face_ids, people, matrix = self._enrolled_vectors()
            if not face_ids or not embeddings:
                return [None] * len(embeddings)
            queries = np.stack([_vector(e, self.space) for e in embeddings])
            squared = matrix.squared_distances(queries)
        best = squared.argmin(axis=1)
        similarity = self.space.similarity(squared[np.arange(len(queries)), best])
        return [
            FaceMatch(people[b], face_ids[b], round(float(s), 2)) if s >= self.threshold else None
            for b, s in zip(best, similarity)
        ]

    def matches_for_content(self, content_sha256: str) -> list[FaceMatch | None] | None:
        """Match a picture's remembered faces again (after an enrolment or a removal), in face order; None when
        nothing is remembered for these bytes (the caller then leaves the document as it is)."""
        with self._lock:
            rows = self.db.execute(
                "SELECT face_index, embedding FROM remembered WHERE content_sha256 = ? AND model = ? ORDER BY face_index",
                (content_sha256, self.space.id),
            ).fetchall()
        if not rows:
            return None
        size = rows[-1][0] + 1
        matches: list[FaceMatch | None] = [None] * size
        found = self.match_embeddings([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        for (index, _), match in zip(rows, found):
            matches[index] = match
        return matches

    def all_matches(self, chunk: int = 65_536) -> dict[str, list[FaceMatch | None]]:
        """Every remembered picture's faces matched against the enrolled ones, by content_sha256, in face order:
        one pass over the vectors in memory, for re-matching a whole library."""
        with self._lock:
            face_ids, people, enrolled = self._enrolled_vectors()
            _, refs, _, matrix = self._remembered_vectors()
            table: dict[str, list[FaceMatch | None]] = {}
            for start in range(0, matrix.size, chunk):
                block = matrix.data[start:min(matrix.size, start + chunk)]
                if face_ids:
                    squared = enrolled.squared_distances(block)
                    best = squared.argmin(axis=1)
                    similarity = self.space.similarity(squared[np.arange(len(block)), best])
                for offset in range(len(block)):
                    ref = refs[start + offset]
                    faces = table.setdefault(ref.content_sha256, [])
                    faces.extend([None] * (ref.face_index + 1 - len(faces)))
                    if face_ids and similarity[offset] >= self.threshold:
                        b = best[offset]
                        faces[ref.face_index] = FaceMatch(people[b], face_ids[b], round(float(similarity[offset]), 2))
        return table

    def remembered_count(self, content_sha256: str) -> int:
        with self._lock:
            return self.db.execute("SELECT count(*) FROM remembered WHERE content_sha256 = ? AND model = ?",
                                   (content_sha256, self.space.id)).fetchone()[0]

    def nearest(self, embedding: Sequence[float], k: int = 10, min_similarity: float | None = None) -> list[tuple[FaceRef, float]]:
        """The k remembered faces closest to `embedding`, best first, with their similarity (exact search)."""
        query = _vector(embedding, self.space)[None, :]
        with self._lock:
            _, refs, _, matrix = self._remembered_vectors()
            if matrix.size == 0 or k <= 0:
                return []
            squared = matrix.squared_distances(query)[0]
        k = min(k, len(squared))
        top = np.argpartition(squared, k - 1)[:k] if k < len(squared) else np.arange(len(squared))
        top = top[np.argsort(squared[top], kind="stable")]
        similarity = self.space.similarity(squared[top])
        floor = -1.0 if min_similarity is None else min_similarity
        return [(refs[i], round(float(s), 2)) for i, s in zip(top, similarity) if s >= floor]

    # ---- known people --------------------------------------------------------------------------------------------
    def enroll(self, name: str, picture: Picture, source: str, faces: Sequence[Face] | None = None,
               replace_source: bool = False) -> list[str]:
        """Enrol the largest face of `picture` under `name`. `faces` (with embeddings) saves analysing it again;
        `replace_source` swaps out what `source` enrolled before, in the same transaction."""
        if faces is None:
            faces = self._analyzer_for_enrolment().analyze(picture).faces
        usable = [f for f in faces if self._ours(f)]
        if not usable:
            raise BadMedia(f"no face found in {source} to enrol as {name!r}")
        largest = max(usable, key=lambda f: f.box.width * f.box.height)
        return self.enroll_embeddings(name, [largest.embedding], source,  # type: ignore[list-item]
                                      replace_source=replace_source)

    def enroll_embeddings(self, name: str, embeddings: Iterable[Sequence[float]], source: str,
                          replace_source: bool = False) -> list[str]:
        """Enrol vectors of our space; with `replace_source`, what `source` enrolled before goes in the same
        transaction (replace_source())."""
        if replace_source:
            return self.replace_source(name, source, embeddings)
        return self._change(None, (), _check_name(name), embeddings, source)[1]

    def replace_source(self, name: str, source: str, embeddings: Iterable[Sequence[float]]) -> list[str]:
        """The faces enrolled from `source` (of any model) become these (none: the photo is forgotten), in one
        transaction, so an interruption leaves either the old faces or the new ones, never neither."""
        return self._change("source = ?", (source,), _check_name(name), embeddings, source)[1]

    def remove_source(self, source: str) -> int:
        return self._change("source = ?", (source,))[0]

    def remove_person(self, name: str) -> int:
        return self._change("person = ?", (name,))[0]

    def merge_people(self, source: str, target: str) -> int:
        """Every face enrolled as `source` becomes `target`'s, in one transaction (with the re-match note naming
        `source`, whose name leaves the documents). How many faces moved."""
        return self._change("person = ?", (source,), _check_name(target), move=True)[0]

    def _change(
        self, where: str | None, params: tuple[Any, ...], name: str | None = None,
        embeddings: Iterable[Sequence[float]] = (), source: str = "", move: bool = False,
    ) -> tuple[int, list[str]]:
        """Delete the enrolled faces `where` holds, add `embeddings` as `name` (vectors of our space), and note that
        the documents must be matched again (with the names that lost faces), all in one transaction: a kill at any
        point leaves the collection as it was or as it is meant to be, and a pending re-match that the next one
        finishes. With `move`, the faces `where` holds are not deleted but become `name`'s."""
        vectors = [_vector(e, self.space) for e in embeddings]
        face_ids = [str(uuid.uuid4()) for _ in vectors]
        with self._lock:
            with self._transaction(forget="_enrolled") as db:
                removed, losing = 0, []
                if where is not None:
                    losing = [r[0] for r in db.execute(f"SELECT DISTINCT person FROM enrolled WHERE {where}", params)]
                    if move:
                        removed = db.execute(f"UPDATE enrolled SET person = ? WHERE {where}", (name, *params)).rowcount
                    else:
                        removed = db.execute(f"DELETE FROM enrolled WHERE {where}", params).rowcount
                db.executemany(
                    "INSERT INTO enrolled (face_id, person, source, embedding, model) VALUES (?, ?, ?, ?, ?)",
                    [(fid, name, source, v.tobytes(), self.space.id) for fid, v in zip(face_ids, vectors)],
                )
                if removed or face_ids:
                    names = [p for p in losing if p != name] or [None]
                    db.executemany("INSERT INTO pending_rematch (person) VALUES (?)", [(p,) for p in names])
            self._enrolled = None
        return removed, face_ids

    # ---- faces marked "not a face" -------------------------------------------------------------------------------
    def hide_face(self, content_sha256: str, face_index: int, box: Box) -> None:
        """Remember that the face at `box` of these bytes is not a face, and forget its vector: the faces after it
        move down one place, as they do in the document, which the re-match noted here brings along. One
        transaction, so an interruption leaves the face shown or hidden, never its vector and its box apart."""
        with self._lock:
            with self._transaction(forget="_remembered") as db:
                db.execute("INSERT INTO hidden (content_sha256, box) VALUES (?, ?)",
                           (content_sha256, json.dumps(_box_json(box))))
                db.execute("DELETE FROM remembered WHERE content_sha256 = ? AND face_index = ? AND model = ?",
                           (content_sha256, face_index, self.space.id))
                # through negative numbers, so no two rows hold one (content_sha256, face_index) on the way
                db.execute("UPDATE remembered SET face_index = -face_index WHERE content_sha256 = ? AND face_index > ? "
                           "AND model = ?", (content_sha256, face_index, self.space.id))
                db.execute("UPDATE remembered SET face_index = -face_index - 1 WHERE content_sha256 = ? AND face_index < 0",
                           (content_sha256,))
                db.execute("INSERT INTO pending_rematch (person) VALUES (NULL)")
            self._remembered = None

    def unhide_faces(self, content_sha256: str) -> int:
        """Forget every "not a face" mark of these bytes, and their remembered faces with them (numbered without
        the hidden ones), so that analysing the file again remembers all its faces in their places. How many marks."""
        with self._lock:
            with self._transaction(forget="_remembered") as db:
                marks = db.execute("DELETE FROM hidden WHERE content_sha256 = ?", (content_sha256,)).rowcount
                if marks:
                    db.execute("DELETE FROM remembered WHERE content_sha256 = ?", (content_sha256,))
            self._remembered = None
        return marks

    def hidden_faces(self) -> dict[str, list[Box]]:
        """content_sha256 -> the boxes marked "not a face" in those bytes."""
        with self._lock:
            rows = self.db.execute("SELECT content_sha256, box FROM hidden ORDER BY id").fetchall()
        table: dict[str, list[Box]] = {}
        for sha, box in rows:
            table.setdefault(sha, []).append(Box(**json.loads(box)))
        return table

    def hidden_boxes(self, content_sha256: str) -> list[Box]:
        with self._lock:
            rows = self.db.execute("SELECT box FROM hidden WHERE content_sha256 = ? ORDER BY id",
                                   (content_sha256,)).fetchall()
        return [Box(**json.loads(r[0])) for r in rows]

    # ---- re-matches owed to the documents ------------------------------------------------------------------------
    def pending_rematch(self) -> tuple[int, set[str]] | None:
        """(last change noted, names that lost faces) when the documents may not follow the collection yet."""
        with self._lock:
            rows = self.db.execute("SELECT id, person FROM pending_rematch ORDER BY id").fetchall()
        if not rows:
            return None
        return rows[-1][0], {r[1] for r in rows if r[1]}

    def note_rematch(self) -> None:
        """Note that the documents owe a re-match (one asked for by hand: it is then finished if interrupted)."""
        with self._lock:
            self.db.execute("INSERT INTO pending_rematch (person) VALUES (NULL)")

    def rematch_done(self, upto: int) -> None:
        """The documents follow every change noted up to `upto` (later ones stay owed)."""
        with self._lock:
            self.db.execute("DELETE FROM pending_rematch WHERE id <= ?", (upto,))

    def list_people(self) -> dict[str, int]:
        with self._lock:
            rows = self.db.execute("SELECT person, count(*) FROM enrolled GROUP BY person ORDER BY person").fetchall()
        return {person: count for person, count in rows}

    def stale(self) -> dict[str, Any]:
        """What was made by another model and is not matched: enrolment photos to read again (person, source) and
        how many remembered faces wait for their file to be analysed again."""
        with self._lock:
            sources = self.db.execute(
                "SELECT DISTINCT person, source FROM enrolled WHERE model != ? ORDER BY person, source", (self.space.id,)
            ).fetchall()
            remembered = self.db.execute("SELECT count(*) FROM remembered WHERE model != ?", (self.space.id,)).fetchone()[0]
        return {"enrolments": [(person, source) for person, source in sources], "remembered_faces": remembered}

    def sources_of(self, name: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self.db.execute("SELECT DISTINCT source FROM enrolled WHERE person = ? ORDER BY source", (name,))]

    def name_of(self, face_id: str) -> str | None:
        with self._lock:
            row = self.db.execute("SELECT person FROM enrolled WHERE face_id = ?", (face_id,)).fetchone()
        return row[0] if row else None

    # ---- clusters of remembered faces ----------------------------------------------------------------------------
    def clusters(self, min_size: int = 1, unnamed_only: bool = True) -> dict[str, list[ClusterMember]]:
        """Cluster id -> its faces, biggest cluster first. With `unnamed_only`, faces that match an enrolled person
        are left out (and clusters left empty disappear)."""
        with self._lock:
            self._cluster_pending()
            rows = self.db.execute("SELECT cluster, content_sha256, face_index, box, embedding FROM remembered "
                                   "WHERE model = ? ORDER BY id", (self.space.id,)).fetchall()
        members: dict[int, list[ClusterMember]] = {}
        vectors = [np.frombuffer(r[4], dtype=np.float32) for r in rows]
        named = self.match_embeddings(vectors) if unnamed_only and rows else [None] * len(rows)
        for row, vector, match in zip(rows, vectors, named):
            if match is not None:
                continue
            box = json.loads(row[3])
            members.setdefault(row[0], []).append(ClusterMember(FaceRef(row[1], row[2]), Box(**box), vector))
        ordered = sorted(members.items(), key=lambda item: (-len(item[1]), item[0]))
        return {cluster_name(c): m for c, m in ordered if len(m) >= min_size}

    def _apart_pairs(self, ids: list[int]) -> list[tuple[int, int]]:
        """The split constraints as pairs of positions in the in-memory vectors (rows since deleted drop out)."""
        rows = self.db.execute("SELECT a, b FROM cluster_apart").fetchall()
        if not rows:
            return []
        position = {row_id: i for i, row_id in enumerate(ids)}
        return [(position[a], position[b]) for a, b in rows if a in position and b in position]

    def split_cluster(self, cluster: int, refs: Sequence[FaceRef]) -> tuple[str, str]:
        """Move the faces `refs` of `cluster` into a cluster of their own, kept apart from what is left of it when
        later faces are clustered (a new face like both joins one of them only). Each part is named after its oldest
        face, as every cluster is. (the moved faces' cluster, the rest's cluster)."""
        with self._lock:
            self._cluster_pending()
            rows = self.db.execute("SELECT id, content_sha256, face_index FROM remembered WHERE cluster = ? AND model = ?",
                                   (cluster, self.space.id)).fetchall()
            wanted = {(r.content_sha256, r.face_index) for r in refs}
            moved = sorted(r[0] for r in rows if (r[1], r[2]) in wanted)
            rest = sorted(r[0] for r in rows if (r[1], r[2]) not in wanted)
            if len(moved) < len(wanted):
                raise ConfigurationError(f"{len(wanted) - len(moved)} of the faces given are not in {cluster_name(cluster)}")
            if not rest:
                raise ConfigurationError(f"that is every face of {cluster_name(cluster)}: leave at least one behind")
            with self._transaction(forget="_remembered") as db:
                for group in (moved, rest):
                    db.executemany("UPDATE remembered SET cluster = ? WHERE id = ?", [(group[0], i) for i in group])
                db.execute("INSERT OR IGNORE INTO cluster_apart (a, b) VALUES (?, ?)", (moved[0], rest[0]))
            self._remembered = None
        return cluster_name(moved[0]), cluster_name(rest[0])

    def cluster_of(self, ref: FaceRef) -> str | None:
        with self._lock:
            self._cluster_pending()
            row = self.db.execute(
                "SELECT cluster FROM remembered WHERE content_sha256 = ? AND face_index = ? AND model = ?",
                (ref.content_sha256, ref.face_index, self.space.id),
            ).fetchone()
        return cluster_name(row[0]) if row else None

    # ---- helpers -------------------------------------------------------------------------------------------------
    def _analyzer_for_enrolment(self) -> Any:
        if self._analyzer is None:
            from mediaindex.adapters.analysis.local import LocalAnalyzer

            self._analyzer = LocalAnalyzer(self.settings)
        return self._analyzer

    def stats(self) -> dict[str, int]:
        with self._lock:
            enrolled = self.db.execute("SELECT count(*), count(DISTINCT person) FROM enrolled").fetchone()
            remembered = self.db.execute(
                "SELECT count(*), count(DISTINCT nullif(cluster, 0)), count(nullif(cluster, 0)) FROM remembered "
                "WHERE model = ?", (self.space.id,)
            ).fetchone()
            stale = self.db.execute(
                "SELECT (SELECT count(*) FROM enrolled WHERE model != ?), (SELECT count(*) FROM remembered WHERE model != ?)",
                (self.space.id, self.space.id),
            ).fetchone()
        return {"enrolled_faces": enrolled[0], "people": enrolled[1], "remembered_faces": remembered[0],
                "clusters": remembered[1], "faces_not_clustered_yet": remembered[0] - remembered[2],
                "face_model": self.space.id, "enrolled_faces_of_other_models": stale[0],
                "remembered_faces_of_other_models": stale[1]}


def _box_json(box: Box) -> dict[str, float]:
    return {"left": box.left, "top": box.top, "width": box.width, "height": box.height}


def cluster_name(number: int) -> str:
    return f"c{number}"


def parse_cluster(name: str) -> int:
    text = name.strip().lower()
    if text.startswith("c"):
        text = text[1:]
    if not text.isdigit():
        raise ConfigurationError(f"{name!r} is not a cluster id: use one that `mediaindex people clusters` lists, e.g. c12")
    return int(text)


def _check_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ConfigurationError("a person's name cannot be empty")
    return cleaned
