"""The local face collection kept in step with a cluster's k-NN index (the local analyzer on an OpenSearch index).

Every write goes to faces.db first, through the wrapped LocalFaceCollection; once it has succeeded, the faces it
touched are read back from faces.db and written to (or deleted from) the FaceVectorIndex, with the ids and fields
`mediaindex migrate` gives them (adapters/export/local_faces.py), so a migrated cluster and a live one hold the same
documents. faces.db stays the source of truth: a cluster write that fails is logged and counted, never raised, and
`mediaindex migrate --to SAME_URL` brings the cluster up to date (docs/scale.md).

`nearest` (search by face) runs in the cluster; its candidates are scored again from faces.db's vectors, as the local
graph's are, so similarities are exact and a face faces.db no longer holds is never returned. Matching enrolled
faces (`identify`), clusters and re-matching stay local. The cluster field of a face is written when the face is
(0 until clustered); clustering later does not rewrite it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from mediaindex.adapters.export.local_faces import LocalFaceVectorFile, _face, _person
from mediaindex.adapters.faces.local import LocalFaceCollection
from mediaindex.adapters.faces.vectors import VectorMatrix, as_vector
from mediaindex.domain.face_clusters import ClusterMember, FaceRef
from mediaindex.domain.model import Box, Face, FaceMatch
from mediaindex.media.picture import Picture
from mediaindex.ports import FACE, PERSON, FaceVectorIndex, Metrics, StoredFaceVector

log = logging.getLogger(__name__)

_FACE_ROWS = ("SELECT id, content_sha256, face_index, box, cluster, model, embedding FROM remembered "
              "WHERE content_sha256 = ?")
_PERSON_ROWS = "SELECT rowid, face_id, person, source, created_at, model, embedding FROM enrolled WHERE "


class ClusterMirroredFaces:
    """The FaceCollection and FaceMemory ports of `local`, by delegation, with the cluster's vectors kept in step.
    `mirror_failures` counts the cluster writes that failed (faces.db has them all)."""

    def __init__(self, local: LocalFaceCollection, cluster_vectors: Callable[[], FaceVectorIndex],
                 metrics: Metrics | None = None) -> None:
        self.local = local
        self._cluster_vectors = cluster_vectors  # reached on first use: `analyze` and `people list` never need it
        self._vectors: FaceVectorIndex | None = None
        self.metrics = metrics
        self.mirror_failures = 0
        self._ready = False
        self._file = LocalFaceVectorFile(local.path)  # a read-only connection: the local writers are not blocked
        self._read_lock = threading.Lock()

    @property
    def vectors(self) -> FaceVectorIndex:
        if self._vectors is None:
            self._vectors = self._cluster_vectors()
        return self._vectors

    @property
    def space(self) -> Any:
        return self.local.space

    @property
    def path(self) -> Any:
        return self.local.path

    def close(self) -> None:
        self._file.close()
        self.local.close()

    # ---- reading faces.db back -----------------------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        if not self._file.present:
            return []
        with self._read_lock:
            return self._file.db.execute(sql, tuple(params)).fetchall()

    def _faces_of(self, shas: Iterable[str]) -> list[StoredFaceVector]:
        return [_face(row) for sha in dict.fromkeys(shas) for row in self._rows(_FACE_ROWS, (sha,))]

    def _people_where(self, where: str, params: Sequence[Any]) -> list[StoredFaceVector]:
        return [_person(row) for row in self._rows(_PERSON_ROWS + where, params)]

    def _people_with_ids(self, face_ids: Iterable[str]) -> list[StoredFaceVector]:
        ids = list(dict.fromkeys(face_ids))
        found: list[StoredFaceVector] = []
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            found += self._people_where(f"face_id IN ({', '.join('?' * len(part))})", part)
        return found

    # ---- writing the cluster -------------------------------------------------------------------------------------
    def _mirror(self, before: Sequence[StoredFaceVector], after: Sequence[StoredFaceVector]) -> None:
        """Put `after` into the cluster and delete what `before` held that `after` no longer does."""
        gone = sorted({v.id for v in before} - {v.id for v in after})
        try:
            if not self._ready:
                self.vectors.ensure_ready()
                self._ready = True
            if after:
                self.vectors.put_vectors(after)
            if gone:
                self.vectors.delete_vectors(gone)
        except Exception as e:  # faces.db has the change; migrate --to the same URL catches the cluster up
            self.mirror_failures += 1
            if self.metrics is not None:
                self.metrics.count("FaceVectorMirrorFailed")
            log.warning("face vectors not written to the cluster (%s: %s); faces.db has them: run `mediaindex "
                        "migrate --to` the same URL to bring the cluster up to date", type(e).__name__, e)

    def resync(self, chunk_size: int = 500) -> int:
        """Write every vector faces.db holds to the cluster again (after failed writes); how many. Vectors whose
        deletion failed stay in the cluster: search by face leaves them out (faces.db no longer has them)."""
        self.vectors.ensure_ready()
        self._ready = True
        written = sum(self.vectors.put_vectors(self._file.iter_vectors(kind), chunk_size=chunk_size)
                      for kind in (FACE, PERSON))
        self.vectors.refresh()
        return written

    def _content_change(self, shas: Sequence[str], change: Callable[[], Any]) -> Any:
        before = self._faces_of(shas)
        result = change()
        self._mirror(before, self._faces_of(shas))
        return result

    def _people_change(self, where: str | None, params: Sequence[Any], change: Callable[[], Any],
                       new_ids: Callable[[Any], Iterable[str]] = lambda result: ()) -> Any:
        before = self._people_where(where, params) if where is not None else []
        result = change()
        face_ids = [v.id.split(":", 1)[1] for v in before]  # ids are "person:<face id>"
        self._mirror(before, self._people_with_ids([*face_ids, *new_ids(result)]))
        return result

    # ---- the FaceCollection port ---------------------------------------------------------------------------------
    def identify(self, picture: Picture, faces: Sequence[Face]) -> tuple[list[FaceMatch | None], int]:
        return self.local.identify(picture, faces)

    def is_empty(self) -> bool:
        return self.local.is_empty()

    def remember(self, content_sha256: str, faces: Sequence[Face]) -> None:
        self._content_change([content_sha256], lambda: self.local.remember(content_sha256, faces))

    def has_remembered(self, content_sha256: str, face_count: int) -> bool:
        return self.local.has_remembered(content_sha256, face_count)

    def hidden_boxes(self, content_sha256: str) -> list[Box]:
        return self.local.hidden_boxes(content_sha256)

    def enroll(self, name: str, picture: Picture, source: str, **options: Any) -> list[str]:
        where = "source = ?" if options.get("replace_source") else None
        return self._people_change(where, (source,), lambda: self.local.enroll(name, picture, source, **options),
                                   new_ids=lambda ids: ids)

    def remove_source(self, source: str, keep: Iterable[str] = ()) -> int:
        kept = list(keep)
        return self._people_change("source = ?", (source,), lambda: self.local.remove_source(source, keep=kept))

    def remove_person(self, name: str) -> int:
        return self._people_change("person = ?", (name,), lambda: self.local.remove_person(name))

    def list_people(self) -> dict[str, int]:
        return self.local.list_people()

    # ---- the FaceMemory port -------------------------------------------------------------------------------------
    def replace_source(self, name: str, source: str, embeddings: Iterable[Sequence[float]]) -> list[str]:
        return self._people_change("source = ?", (source,),
                                   lambda: self.local.replace_source(name, source, embeddings), new_ids=lambda ids: ids)

    def enroll_embeddings(self, name: str, embeddings: Iterable[Sequence[float]], source: str,
                          **options: Any) -> list[str]:
        where = "source = ?" if options.get("replace_source") else None
        return self._people_change(where, (source,),
                                   lambda: self.local.enroll_embeddings(name, embeddings, source, **options),
                                   new_ids=lambda ids: ids)

    def merge_people(self, source: str, target: str) -> int:
        return self._people_change("person = ?", (source,), lambda: self.local.merge_people(source, target))

    def stale(self) -> dict[str, Any]:
        return self.local.stale()

    def matches_for_content(self, content_sha256: str) -> list[FaceMatch | None] | None:
        return self.local.matches_for_content(content_sha256)

    def all_matches(self) -> dict[str, list[FaceMatch | None]]:
        return self.local.all_matches()

    def remembered_count(self, content_sha256: str) -> int:
        return self.local.remembered_count(content_sha256)

    def hidden_faces(self) -> dict[str, list[Box]]:
        return self.local.hidden_faces()

    def hide_face(self, content_sha256: str, face_index: int, box: Box) -> None:
        # the faces after it move down one place, so their ids change: the picture's faces are written again
        self._content_change([content_sha256], lambda: self.local.hide_face(content_sha256, face_index, box))

    def unhide_faces(self, content_sha256: str) -> int:
        return self._content_change([content_sha256], lambda: self.local.unhide_faces(content_sha256))

    def pending_rematch(self) -> tuple[int, set[str]] | None:
        return self.local.pending_rematch()

    def note_rematch(self) -> None:
        self.local.note_rematch()

    def rematch_done(self, upto: int) -> None:
        self.local.rematch_done(upto)

    def clusters(self, min_size: int = 1, unnamed_only: bool = True) -> dict[str, list[ClusterMember]]:
        return self.local.clusters(min_size=min_size, unnamed_only=unnamed_only)

    def split_cluster(self, cluster: int, refs: Sequence[FaceRef]) -> tuple[str, str]:
        return self.local.split_cluster(cluster, refs)

    def nearest(self, embedding: Sequence[float], k: int = 10,
                min_similarity: float | None = None) -> list[tuple[FaceRef, float]]:
        """The cluster's k nearest remembered faces, scored again exactly from faces.db (the local search when the
        cluster cannot answer)."""
        if k <= 0:
            return []
        try:
            found = self.vectors.nearest_vectors(embedding, self.space, k=k, kind=FACE)
        except Exception as e:
            log.warning("face search in the cluster failed (%s: %s): searching faces.db", type(e).__name__, e)
            return self.local.nearest(embedding, k=k, min_similarity=min_similarity)
        wanted = {(v.fields.get("content_sha256"), v.fields.get("face_index")) for v, _ in found}
        stored = [v for v in self._faces_of(sha for sha, _ in wanted if sha is not None)
                  if v.model == self.space.id and (v.fields["content_sha256"], v.fields["face_index"]) in wanted]
        if not stored:
            return []
        matrix = VectorMatrix(len(stored))
        matrix.extend(np.stack([as_vector(v.embedding, self.space) for v in stored]))
        squared = matrix.squared_distances(as_vector(embedding, self.space)[None, :])[0]
        order = np.argsort(squared, kind="stable")
        similarity = self.space.similarity(squared[order])
        floor = -1.0 if min_similarity is None else min_similarity
        refs = [FaceRef(stored[i].fields["content_sha256"], stored[i].fields["face_index"]) for i in order]
        return [(ref, round(float(s), 2)) for ref, s in zip(refs, similarity) if s >= floor]
