"""Faces without enrolment: compare two pictures' faces (`compare`), find the files a face appears in
(`search_by_face`), and group the faces nobody has named (`clusters`, `name_cluster`, `split_cluster`). All but
compare need the face memory (the local collection's remembered vectors); compare uses the face service's own
comparer where faces carry no vectors (Rekognition)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain import face_vectors
from mediaindex.domain.errors import BadMedia, ConfigurationError, ObjectNotFound
from mediaindex.domain.face_clusters import FaceRef, cluster_name, parse_cluster
from mediaindex.domain.model import Face
from mediaindex.media.picture import Picture
from mediaindex.ports import FaceComparer, FaceEmbedder, FaceMemory
from mediaindex.services.indexing import Pipeline
from mediaindex.services.people_rules import box_dict, check_person_name, largest, require_memory
from mediaindex.services.rematch import Rematch, Rematcher

log = logging.getLogger(__name__)

# Naming a cluster enrols at most this many of its faces: enough variety to match the rest, a bounded collection.
MAX_FACES_PER_CLUSTER_NAME = 50


def faces_with_vectors(pipeline: Pipeline, embedder: FaceEmbedder | None, picture: Picture) -> list[Face]:
    """The faces of a picture with their vectors: from the embedder when there is one (no attributes, fewer models
    loaded), else from the analyzer's whole analysis."""
    return embedder.face_vectors(picture) if embedder is not None else pipeline.analyzer.analyze(picture).faces


@dataclass
class FaceSearch:
    settings: Settings
    pipeline: Pipeline
    rematcher: Rematcher  # lists the documents by content
    rematch: Callable[[], Rematch]  # brings the documents up to date after naming a cluster
    memory: FaceMemory | None = None
    embedder: FaceEmbedder | None = None
    comparer: FaceComparer | None = None

    @property
    def threshold(self) -> float:
        return float(self.settings.face_match_threshold)

    def vectors(self, picture: Picture) -> list[Face]:
        return faces_with_vectors(self.pipeline, self.embedder, picture)

    def compare(self, a: Picture, b: Picture) -> dict[str, Any]:
        """Every face of `a` against every face of `b`: all pairs, best first, and the best pair."""
        api_calls = 0
        if self.comparer is not None:  # Rekognition never gives out face vectors: it compares them itself
            pairs, faces_a, faces_b, api_calls = self.comparer.compare(a, b)
        else:
            found_a, found_b = self.vectors(a), self.vectors(b)
            faces_a = [f for f in found_a if f.embedding is not None]
            faces_b = [f for f in found_b if f.embedding is not None]
            if (found_a or found_b) and not (faces_a or faces_b):
                raise ConfigurationError(
                    f"the {self.pipeline.analyzer.name} analyzer gives no face vectors and its face collection cannot "
                    "compare pictures: use the local analyzer (--analyzer local)"
                )
            # both pictures went through the same analyzer now, so their vectors share one space
            space = face_vectors.space_of(next((f.embedding_space for f in faces_a + faces_b), face_vectors.DEFAULT.id))
            pairs = [(i, j, space.compare(fa.embedding, fb.embedding))  # type: ignore[arg-type]
                     for i, fa in enumerate(faces_a) for j, fb in enumerate(faces_b)]
        ranked = sorted(
            ({"a": i, "b": j, "similarity": round(s, 2), "same_person": s >= self.threshold} for i, j, s in pairs),
            key=lambda p: -p["similarity"],
        )
        return {
            "threshold": self.threshold,
            "faces_a": [box_dict(f.box) for f in faces_a],
            "faces_b": [box_dict(f.box) for f in faces_b],
            "best": ranked[0] if ranked else None,
            "pairs": ranked,
            "api_calls": api_calls,
        }

    def search_by_face(self, picture: Picture, limit: int = 50, all_faces: bool = False) -> dict[str, Any]:
        """Files in which the face of `picture` (its largest, or each with `all_faces`) appears, best first."""
        memory = require_memory(self.memory, "search by face")
        found = [(f, f.embedding) for f in self.vectors(picture) if f.embedding is not None]
        faces = [f for f, _ in found]
        if not faces:
            raise BadMedia("no face found in the picture to search with")
        chosen = list(range(len(faces))) if all_faces else [largest(faces)]
        best: dict[str, dict[str, Any]] = {}
        by_content = self.rematcher.by_content()
        for q in chosen:
            for ref, similarity in memory.nearest(found[q][1], k=max(limit * 4, 100), min_similarity=self.threshold):
                for doc in by_content.get(ref.content_sha256, []):
                    stored = (doc.get("faces") or [])
                    face = stored[ref.face_index] if ref.face_index < len(stored) else None
                    hit = {
                        "id": doc["id"], "bucket": doc.get("bucket"), "key": doc["key"], "similarity": similarity,
                        "face_index": ref.face_index, "query_face": q, "box": face.get("box") if face else None,
                        "person": face.get("person") if face else None,
                    }
                    if doc["id"] not in best or best[doc["id"]]["similarity"] < similarity:
                        best[doc["id"]] = hit
        hits = sorted(best.values(), key=lambda h: (-h["similarity"], h["key"]))[:limit]
        return {"threshold": self.threshold, "query_faces": [box_dict(faces[q].box) for q in chosen], "total": len(hits),
                "hits": hits}

    # ---- clusters of unnamed faces -------------------------------------------------------------------------------
    def clusters(self, min_size: int = 2) -> list[dict[str, Any]]:
        """Groups of faces that look alike and match nobody enrolled, biggest first, with the files they are in. A
        face counts once however many copies of its photo are indexed: its file is the first of them, the others
        listed with it (`copies`), so two copies of one portrait are not a group."""
        memory = require_memory(self.memory, "clustering faces")
        by_content = self.rematcher.by_content()
        result: list[dict[str, Any]] = []
        for cluster_id, members in memory.clusters(min_size=1).items():
            files = []
            for m in members:
                holding = sorted(by_content.get(m.ref.content_sha256, []), key=lambda d: d["key"])
                if holding:
                    doc = holding[0]
                    files.append({"id": doc["id"], "bucket": doc.get("bucket"), "key": doc["key"],
                                  "face_index": m.ref.face_index, "box": box_dict(m.box),
                                  **({"copies": [d["key"] for d in holding[1:]]} if len(holding) > 1 else {})})
            if len(files) >= min_size:
                result.append({"cluster": cluster_id, "faces": len(members), "files": files})
        result.sort(key=lambda c: (-len(c["files"]), c["cluster"]))
        return result

    def name_cluster(self, cluster_id: str, name: str) -> dict[str, Any]:
        """Enrol the faces of an unnamed cluster as `name`; every file they are in follows."""
        memory = require_memory(self.memory, "naming a cluster")
        name = check_person_name(name)
        wanted = cluster_name(parse_cluster(cluster_id))
        members = memory.clusters(min_size=1).get(wanted)
        if not members:
            raise ConfigurationError(
                f"no unnamed cluster {wanted}: list them with `mediaindex people clusters` (a named cluster is gone)"
            )
        face_ids = memory.enroll_embeddings(
            name, [m.embedding for m in members[:MAX_FACES_PER_CLUSTER_NAME]], source=f"cluster:{wanted}"
        )
        report = self.rematch()
        return {"cluster": wanted, "name": " ".join(name.split()), "faces_enrolled": len(face_ids), **report.to_dict()}

    def split_cluster(self, cluster_id: str, faces: list[tuple[str, int | None]]) -> dict[str, Any]:
        """Move faces out of a cluster that holds two people into a cluster of their own, kept apart from the rest
        when later faces are clustered. `faces`: (document id, face index from 0, or None for every face of that
        file in the cluster)."""
        memory = require_memory(self.memory, "splitting a cluster")
        number = parse_cluster(cluster_id)
        members = memory.clusters(min_size=1, unnamed_only=False).get(cluster_name(number))
        if not members:
            raise ConfigurationError(f"no cluster {cluster_name(number)}: list them with `mediaindex people clusters`")
        in_cluster = {(m.ref.content_sha256, m.ref.face_index) for m in members}
        if not faces:
            raise ConfigurationError("name the faces to move out of the cluster")
        refs: list[FaceRef] = []
        for doc_id, face_index in faces:
            found = self.pipeline.index.get(doc_id)
            if found is None or found.doc.get("status") != docs.INDEXED:
                raise ObjectNotFound(f"no indexed file {doc_id}")
            sha = found.doc.get("content_sha256") or ""
            chosen = [(sha, face_index)] if face_index is not None else sorted(k for k in in_cluster if k[0] == sha)
            for key in chosen:
                if key not in in_cluster:
                    which = f"face {key[1] + 1} of " if face_index is not None else ""
                    raise ConfigurationError(f"{which}{found.doc['key']} is not in {cluster_name(number)}")
                refs.append(FaceRef(*key))
            if not chosen:
                raise ConfigurationError(f"no face of {found.doc['key']} is in {cluster_name(number)}")
        moved, rest = memory.split_cluster(number, refs)
        log.info("cluster split", extra={"cluster": cluster_name(number), "moved": len(refs), "new": moved})
        return {"cluster": cluster_name(number), "moved_to": moved, "rest": rest, "faces_moved": len(set(refs))}
