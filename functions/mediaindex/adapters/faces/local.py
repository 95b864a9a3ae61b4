"""Known people on one machine: face vectors from the local analyzer, matched by exact brute force with NumPy.

One SQLite file (`faces.db`, beside the index; its tables in local_store.py) holds the enrolled faces and every
face of every analysed picture, so that enrolling or forgetting a person re-matches the library from these vectors
without analysing anything again, "search by face" finds files without enrolment, and unnamed faces can be grouped
into clusters (local_clusters.py); it also keeps the boxes marked "not a face" and the re-matches still owed.

Every vector is stored with its model (its space, domain/face_vectors.py): the collection matches only vectors of
the space the analyzer makes now, so vectors of two models are never compared. Vectors of an older model wait for
their file to be analysed again (`mediaindex index` does it) or, for enrolment photos, for `re_embed` to read the
photo again; `stale()` says what is left. Similarity is the space's 0-100 scale, on which the default threshold, 80,
is the model's measured same-person boundary. Matching enrolled faces is exact (one float32 matrix product); the
nearest remembered faces come from brute force while they are few and from an HNSW graph beside faces.db once they
are many (local_search.py, ann.py), scored again exactly (bench/bench_faces.py measures both).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from mediaindex.adapters.faces import ann
from mediaindex.adapters.faces.local_clusters import FaceClusters
from mediaindex.adapters.faces.local_search import FaceSearch
from mediaindex.adapters.faces.local_store import FaceStore, default_path
from mediaindex.adapters.faces.vectors import DIMENSIONS, Embedding, as_vector, box_json
from mediaindex.config import Settings
from mediaindex.domain import face_vectors
from mediaindex.domain.errors import BadMedia, ConfigurationError
from mediaindex.domain.face_clusters import ClusterMember, FaceRef, cluster_name, parse_cluster
from mediaindex.domain.face_vectors import VectorSpace
from mediaindex.domain.model import Box, Face, FaceMatch
from mediaindex.media.picture import Picture

# re-exported: tests, the CLI and the benchmarks import these from here
__all__ = ["ClusterMember", "DIMENSIONS", "FaceRef", "LocalFaceCollection", "cluster_name", "default_path",
           "parse_cluster"]


class LocalFaceCollection:
    """The FaceCollection and FaceMemory ports on a SQLite file and NumPy, made of three parts that share one
    FaceStore (the file and the vectors in memory, local_store.py): matching and known people here, the search
    among remembered faces (FaceSearch, local_search.py) and their clusters (FaceClusters, local_clusters.py).
    Safe to share between threads of one process; other processes' writes are noticed (SQLite's data_version) and
    the vectors in memory read again. `exact_below`: how many remembered faces are searched by brute force before
    the graph takes over."""

    def __init__(self, settings: Settings, path: str | Path | None = None, analyzer: Any = None,
                 space: VectorSpace | None = None, exact_below: int | None = None) -> None:
        self.settings = settings
        self.space = space or face_vectors.DEFAULT  # the model whose vectors are matched; others wait (stale())
        self.threshold = float(settings.face_match_threshold)
        self.path = Path(path) if path is not None else default_path(settings)
        self._analyzer = analyzer  # only for enroll(picture) without faces; built lazily (loading models is slow)
        self.store = FaceStore(self.path, self.space)
        self.search = FaceSearch(self.store, ann.EXACT_BELOW if exact_below is None else exact_below)
        self.clustering = FaceClusters(self.store, self.search, self.threshold, self.match_embeddings)

    def close(self) -> None:
        with self.store.lock:
            self.search.save_graph_if_due(force=True)
            self.store.close()

    # ---- the FaceCollection port ---------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        with self.store.lock:
            return not self.store.enrolled()[0]

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
        rows = [(content_sha256, i, f.box, f.embedding) for i, f in enumerate(faces)
                if f.embedding is not None and self._ours(f)]
        if rows:
            self.import_faces(rows)

    def import_faces(self, rows: Iterable[tuple[str, int, Box, Sequence[float]]]) -> int:
        """Remember faces (content_sha256, face index, box, embedding); a face already remembered for the same bytes
        is kept as it is. How many were new."""
        added = 0
        store = self.store
        with store.lock:
            remembered = store.remembered()
            ids, refs, clusters, matrix = remembered
            new_ids: list[int] = []
            new_refs: list[FaceRef] = []
            new_vectors: list[np.ndarray] = []
            with store.transaction(forget=store.forget_remembered, busy_is_transient=True) as db:
                replaced: set[str] = set()
                next_id = _next_face_id(db)
                for sha, index, box, embedding in rows:
                    vector = as_vector(embedding, self.space)
                    if sha not in replaced:  # the picture analysed again by a newer model: its old vectors go
                        db.execute("DELETE FROM remembered WHERE content_sha256 = ? AND model != ?", (sha, self.space.id))
                        replaced.add(sha)
                    cursor = db.execute(
                        "INSERT OR IGNORE INTO remembered (id, content_sha256, face_index, box, embedding, cluster, "
                        "model) VALUES (?, ?, ?, ?, ?, 0, ?)",
                        (next_id, sha, index, json.dumps(box_json(box)), vector.tobytes(), self.space.id),
                    )
                    if cursor.rowcount == 0:
                        continue  # the same picture was analysed before: its faces are already remembered
                    new_ids.append(next_id)
                    next_id += 1
                    new_refs.append(FaceRef(sha, index))
                    new_vectors.append(vector)
                if new_ids:
                    db.execute("UPDATE face_id_high SET high = ?", (new_ids[-1],))
            if new_ids and ids and new_ids[0] <= ids[-1]:
                store.forget_remembered()  # cannot happen (ids only grow); the vectors are read again if it did
            elif new_ids:
                ids.extend(new_ids)
                refs.extend(new_refs)
                clusters.extend([0] * len(new_ids))  # 0: not clustered yet
                matrix.extend(np.stack(new_vectors))
                self.search.added(remembered, new_ids, matrix.data[matrix.size - len(new_ids):matrix.size])
            added = len(new_ids)
        return added

    # ---- matching ------------------------------------------------------------------------------------------------
    def match_embeddings(self, embeddings: Sequence[Embedding]) -> list[FaceMatch | None]:
        """For each vector, the best enrolled face at or above the threshold, or None."""
        with self.store.lock:
            face_ids, people, matrix = self.store.enrolled()
            if not face_ids or not embeddings:
                return [None] * len(embeddings)
            queries = np.stack([as_vector(e, self.space) for e in embeddings])
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
        with self.store.lock:
            rows = self.store.db.execute(
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
        with self.store.lock:
            face_ids, people, enrolled = self.store.enrolled()
            _, refs, _, matrix = self.store.remembered()
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

    def has_remembered(self, content_sha256: str, face_count: int) -> bool:
        return self.remembered_count(content_sha256) >= face_count

    def remembered_count(self, content_sha256: str) -> int:
        with self.store.lock:
            return self.store.db.execute("SELECT count(*) FROM remembered WHERE content_sha256 = ? AND model = ?",
                                         (content_sha256, self.space.id)).fetchone()[0]

    # ---- search by face and clusters (FaceMemory) ----------------------------------------------------------------
    def nearest(self, embedding: Sequence[float], k: int = 10,
                min_similarity: float | None = None) -> list[tuple[FaceRef, float]]:
        return self.search.nearest(embedding, k, min_similarity)

    def clusters(self, min_size: int = 1, unnamed_only: bool = True) -> dict[str, list[ClusterMember]]:
        return self.clustering.clusters(min_size, unnamed_only)

    def split_cluster(self, cluster: int, refs: Sequence[FaceRef]) -> tuple[str, str]:
        return self.clustering.split_cluster(cluster, refs)

    def cluster_of(self, ref: FaceRef) -> str | None:
        return self.clustering.cluster_of(ref)

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

    def remove_source(self, source: str, keep: Iterable[str] = ()) -> int:
        kept = list(dict.fromkeys(keep))
        if not kept:
            return self._change("source = ?", (source,))[0]
        marks = ", ".join("?" * len(kept))
        return self._change(f"source = ? AND face_id NOT IN ({marks})", (source, *kept))[0]

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
        vectors = [as_vector(e, self.space) for e in embeddings]
        face_ids = [str(uuid.uuid4()) for _ in vectors]
        with self.store.lock:
            with self.store.transaction(forget=self.store.forget_enrolled) as db:
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
            self.store.forget_enrolled()
        return removed, face_ids

    # ---- faces marked "not a face" -------------------------------------------------------------------------------
    def hide_face(self, content_sha256: str, face_index: int, box: Box) -> None:
        """Remember that the face at `box` of these bytes is not a face, and forget its vector: the faces after it
        move down one place, as they do in the document, which the re-match noted here brings along. One
        transaction, so an interruption leaves the face shown or hidden, never its vector and its box apart."""
        with self.store.lock:
            with self.store.transaction(forget=self.store.forget_remembered) as db:
                db.execute("INSERT INTO hidden (content_sha256, box) VALUES (?, ?)",
                           (content_sha256, json.dumps(box_json(box))))
                db.execute("DELETE FROM remembered WHERE content_sha256 = ? AND face_index = ? AND model = ?",
                           (content_sha256, face_index, self.space.id))
                # through negative numbers, so no two rows hold one (content_sha256, face_index) on the way
                db.execute("UPDATE remembered SET face_index = -face_index WHERE content_sha256 = ? AND face_index > ? "
                           "AND model = ?", (content_sha256, face_index, self.space.id))
                db.execute("UPDATE remembered SET face_index = -face_index - 1 WHERE content_sha256 = ? AND face_index < 0",
                           (content_sha256,))
                db.execute("INSERT INTO pending_rematch (person) VALUES (NULL)")
            self.store.forget_remembered()

    def unhide_faces(self, content_sha256: str) -> int:
        """Forget every "not a face" mark of these bytes, and their remembered faces with them (numbered without
        the hidden ones), so that analysing the file again remembers all its faces in their places. How many marks."""
        with self.store.lock:
            with self.store.transaction(forget=self.store.forget_remembered) as db:
                marks = db.execute("DELETE FROM hidden WHERE content_sha256 = ?", (content_sha256,)).rowcount
                if marks:
                    db.execute("DELETE FROM remembered WHERE content_sha256 = ?", (content_sha256,))
            self.store.forget_remembered()
        return marks

    def hidden_faces(self) -> dict[str, list[Box]]:
        """content_sha256 -> the boxes marked "not a face" in those bytes."""
        with self.store.lock:
            rows = self.store.db.execute("SELECT content_sha256, box FROM hidden ORDER BY id").fetchall()
        table: dict[str, list[Box]] = {}
        for sha, box in rows:
            table.setdefault(sha, []).append(Box(**json.loads(box)))
        return table

    def hidden_boxes(self, content_sha256: str) -> list[Box]:
        with self.store.lock:
            rows = self.store.db.execute("SELECT box FROM hidden WHERE content_sha256 = ? ORDER BY id",
                                         (content_sha256,)).fetchall()
        return [Box(**json.loads(r[0])) for r in rows]

    # ---- re-matches owed to the documents ------------------------------------------------------------------------
    def pending_rematch(self) -> tuple[int, set[str]] | None:
        """(last change noted, names that lost faces) when the documents may not follow the collection yet."""
        with self.store.lock:
            rows = self.store.db.execute("SELECT id, person FROM pending_rematch ORDER BY id").fetchall()
        if not rows:
            return None
        return rows[-1][0], {r[1] for r in rows if r[1]}

    def note_rematch(self) -> None:
        """Note that the documents owe a re-match (one asked for by hand: it is then finished if interrupted)."""
        with self.store.lock:
            self.store.db.execute("INSERT INTO pending_rematch (person) VALUES (NULL)")

    def rematch_done(self, upto: int) -> None:
        """The documents follow every change noted up to `upto` (later ones stay owed)."""
        with self.store.lock:
            self.store.db.execute("DELETE FROM pending_rematch WHERE id <= ?", (upto,))

    def list_people(self) -> dict[str, int]:
        with self.store.lock:
            rows = self.store.db.execute(
                "SELECT person, count(*) FROM enrolled GROUP BY person ORDER BY person").fetchall()
        return {person: count for person, count in rows}

    def stale(self) -> dict[str, Any]:
        """What was made by another model and is not matched: enrolment photos to read again (person, source) and
        how many remembered faces wait for their file to be analysed again."""
        with self.store.lock:
            sources = self.store.db.execute(
                "SELECT DISTINCT person, source FROM enrolled WHERE model != ? ORDER BY person, source", (self.space.id,)
            ).fetchall()
            remembered = self.store.db.execute("SELECT count(*) FROM remembered WHERE model != ?",
                                               (self.space.id,)).fetchone()[0]
        return {"enrolments": [(person, source) for person, source in sources], "remembered_faces": remembered}

    def sources_of(self, name: str) -> list[str]:
        with self.store.lock:
            return [r[0] for r in self.store.db.execute(
                "SELECT DISTINCT source FROM enrolled WHERE person = ? ORDER BY source", (name,))]

    def name_of(self, face_id: str) -> str | None:
        with self.store.lock:
            row = self.store.db.execute("SELECT person FROM enrolled WHERE face_id = ?", (face_id,)).fetchone()
        return row[0] if row else None

    # ---- helpers -------------------------------------------------------------------------------------------------
    def _analyzer_for_enrolment(self) -> Any:
        if self._analyzer is None:
            from mediaindex.adapters.analysis.local import LocalAnalyzer

            self._analyzer = LocalAnalyzer(self.settings)
        return self._analyzer

    def stats(self) -> dict[str, int]:
        with self.store.lock:
            enrolled = self.store.db.execute("SELECT count(*), count(DISTINCT person) FROM enrolled").fetchone()
            remembered = self.store.db.execute(
                "SELECT count(*), count(DISTINCT nullif(cluster, 0)), count(nullif(cluster, 0)) FROM remembered "
                "WHERE model = ?", (self.space.id,)
            ).fetchone()
            stale = self.store.db.execute(
                "SELECT (SELECT count(*) FROM enrolled WHERE model != ?), (SELECT count(*) FROM remembered WHERE model != ?)",
                (self.space.id, self.space.id),
            ).fetchone()
        return {"enrolled_faces": enrolled[0], "people": enrolled[1], "remembered_faces": remembered[0],
                "clusters": remembered[1], "faces_not_clustered_yet": remembered[0] - remembered[2],
                "face_model": self.space.id, "enrolled_faces_of_other_models": stale[0],
                "remembered_faces_of_other_models": stale[1]}


def _next_face_id(db: sqlite3.Connection) -> int:
    """A row id never given before, even to a face since forgotten, so that the search graph's labels (ann.py)
    always name the face they were given for."""
    row = db.execute("SELECT max((SELECT coalesce(max(id), 0) FROM remembered), (SELECT high FROM face_id_high))")
    return int(row.fetchone()[0]) + 1


def _check_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ConfigurationError("a person's name cannot be empty")
    return cleaned
