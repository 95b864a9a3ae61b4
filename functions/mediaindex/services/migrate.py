"""Moving an index to another backend (an embedded SQLite index into OpenSearch): documents, tombstones included,
then the face vectors of the local collection (remembered faces and enrolled people), in bulk.

Resumable: after every batch the checkpoint keeps the last document id and the last vector position copied, so a
run stopped anywhere (Ctrl-C, a crash, the cluster gone) continues after them; a batch written twice is harmless
(bulk writes by id replace). Verified: at the end the counts of both sides, per kind (documents by status, faces,
people), must agree, or the run fails naming each kind that differs.

The source is read in its own stable order while nobody writes to it: stop `index`/`watch` during the copy (or run
`mediaindex reconcile` against the new index afterwards).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

from mediaindex.domain.document import SearchDocument
from mediaindex.domain.errors import ConfigurationError, MediaIndexError
from mediaindex.domain.look_alikes import LOOK
from mediaindex.ports import (
    FACE, PERSON, CheckpointStore, FaceVectorIndex, FaceVectorSource, Index, PictureVector, PictureVectors,
    StoredFaceVector,
)

STATUSES = ("indexed", "failed", "deleted")
VECTOR_KINDS = {"faces": FACE, "people": PERSON}
_SAMPLE = 200  # documents read to estimate the size of the whole copy
# an HNSW vector of 128 float32 in OpenSearch: 4 * d + 8 * m bytes (m = 16), times 1.1 (the k-NN plugin's sizing
# rule, https://docs.aws.amazon.com/opensearch-service/latest/developerguide/knn.html), plus its stored source
VECTOR_BYTES = int(1.1 * (4 * 128 + 8 * 16)) + 128 * 12

Progress = Callable[[str, int], None]  # (what, how many more copied)


@dataclass
class Counts:
    """Both sides counted per kind: documents by status, face vectors ("faces"), enrolled faces ("people")."""

    source: dict[str, int]
    target: dict[str, int]

    @property
    def verified(self) -> bool:
        return self.source == self.target

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "verified": self.verified}


@dataclass
class Copied:
    """What a run copied (per kind, as Counts), whether it went on from a stopped one, and the check after it."""

    copied: dict[str, int]
    resumed: bool
    counts: Counts

    def to_dict(self) -> dict[str, Any]:
        return {"copied": self.copied, "resumed": self.resumed, **self.counts.to_dict()}


@dataclass
class Plan:
    """The dry run: what the source holds, about how many bytes that is, and where a rerun would resume."""

    source: dict[str, int]
    documents: int
    estimated_document_bytes: int
    estimated_vector_bytes: int
    face_vectors: bool  # are the local collection's vectors copied too
    resume: dict[str, Any] | None  # {"done", "copied"} of a run before; None: none

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CountMismatch(MediaIndexError):
    """The target does not hold what the source holds after a copy."""

    def __init__(self, message: str, report: Counts) -> None:
        super().__init__(message)
        self.report = report


class Migration:
    def __init__(self, source: Index, target: Index, checkpoint: CheckpointStore,
                 source_vectors: FaceVectorSource | None = None, target_vectors: FaceVectorIndex | None = None,
                 batch_size: int = 500, progress: Progress | None = None,
                 source_pictures: PictureVectors | None = None, target_pictures: PictureVectors | None = None) -> None:
        if batch_size < 1:
            raise ConfigurationError("the batch size must be at least 1")
        self.source, self.target = source, target
        self.checkpoint = checkpoint
        self.source_vectors = source_vectors
        # vectors go only where the target keeps them (an OpenSearch index does; Rekognition deployments have none)
        self.target_vectors = target_vectors if source_vectors is not None else None
        self.batch_size = batch_size
        self.progress = progress or (lambda what, n: None)
        # the look-alike vectors (adapters/vectors/): copied where both sides keep them
        self.source_pictures = source_pictures if target_pictures is not None else None
        self.target_pictures = target_pictures if source_pictures is not None else None

    # ---- what would be copied ------------------------------------------------------------------------------------
    def source_counts(self) -> dict[str, int]:
        stats = self.source.stats()
        counts = {status: int(stats.get(status, 0)) for status in STATUSES}
        for name, kind in VECTOR_KINDS.items():
            counts[name] = (self.source_vectors.count_vectors(kind)
                            if self.source_vectors is not None and self.target_vectors is not None else 0)
        if self.source_pictures is not None:
            counts["looks"] = self.source_pictures.count(LOOK)
        return counts

    def plan(self) -> Plan:
        """The dry run: what the source holds, about how many bytes that is, and where a rerun would resume."""
        counts = self.source_counts()
        documents = sum(counts[s] for s in STATUSES)
        sample = [len(json.dumps(doc, ensure_ascii=False).encode()) for doc, _ in
                  zip(self.source.iter_documents(include_deleted=True), range(_SAMPLE))]
        per_document = sum(sample) / len(sample) if sample else 0
        state = self.checkpoint.load()
        return Plan(
            source=counts,
            documents=documents,
            estimated_document_bytes=int(per_document * documents),
            estimated_vector_bytes=(counts["faces"] + counts["people"]) * VECTOR_BYTES,
            face_vectors=self.target_vectors is not None,
            resume=None if state is None else {"done": state.get("done"), "copied": state.get("totals")},
        )

    # ---- copying -------------------------------------------------------------------------------------------------
    def run(self, restart: bool = False) -> Copied:
        if restart:
            self.checkpoint.clear()
        state = self.checkpoint.load() or {}
        position: dict[str, Any] = json.loads(state["checkpoint"]) if state.get("checkpoint") else {}
        copied: dict[str, int] = {"documents": 0, "faces": 0, "people": 0, **(state.get("totals") or {})}
        resumed = bool(position) and not state.get("done")
        if state.get("done"):
            position, copied = {}, {"documents": 0, "faces": 0, "people": 0}  # a finished copy: check it again
        else:
            self.target.ensure_ready()
            if self.target_vectors is not None:
                self.target_vectors.ensure_ready()
            self._copy_documents(position, copied)
            for name, kind in VECTOR_KINDS.items():
                if self.target_vectors is not None:
                    self._copy_vectors(name, kind, position, copied)
            self._copy_pictures(position, copied)
        self.target.refresh()
        if self.target_vectors is not None:
            self.target_vectors.refresh()
        refresh = getattr(self.target_pictures, "refresh", None)
        if refresh is not None:
            refresh()
        report = Copied(copied, resumed, self.verify())
        self.checkpoint.save(json.dumps(position), done=True, totals=copied)
        return report

    def _save(self, position: dict[str, Any], copied: dict[str, int]) -> None:
        self.checkpoint.save(json.dumps(position), done=False, totals=dict(copied))

    def _copy_documents(self, position: dict[str, Any], copied: dict[str, int]) -> None:
        if position.get("documents_done"):
            return
        batch: list[SearchDocument] = []
        for doc in self._documents_after(position.get("documents")):
            batch.append(doc)
            if len(batch) == self.batch_size:
                self._write_documents(batch, position, copied)
                batch = []
        if batch:
            self._write_documents(batch, position, copied)
        position["documents_done"] = True
        self._save(position, copied)

    def _documents_after(self, last_id: str | None) -> Iterator[SearchDocument]:
        """The source's documents after `last_id` in its own order (the port promises an order, not a seek)."""
        documents = self.source.iter_documents(include_deleted=True)
        if last_id is not None:
            for doc in documents:
                if doc["id"] == last_id:
                    break
            else:
                raise ConfigurationError(f"the checkpoint's last document {last_id} is no longer in the source (was "
                                         "it written to meanwhile?): start again with --restart")
        yield from documents

    def _write_documents(self, batch: list[SearchDocument], position: dict[str, Any], copied: dict[str, int]) -> None:
        self.target.put_many(batch, chunk_size=self.batch_size)
        position["documents"] = batch[-1]["id"]
        copied["documents"] += len(batch)
        self._save(position, copied)
        self.progress("documents", len(batch))

    def _copy_vectors(self, name: str, kind: str, position: dict[str, Any], copied: dict[str, int]) -> None:
        assert self.source_vectors is not None and self.target_vectors is not None
        batch: list[StoredFaceVector] = []
        for vector in self.source_vectors.iter_vectors(kind, after=int(position.get(name) or 0)):
            batch.append(vector)
            if len(batch) == self.batch_size:
                self._write_vectors(name, batch, position, copied)
                batch = []
        if batch:
            self._write_vectors(name, batch, position, copied)

    def _write_vectors(self, name: str, batch: list[StoredFaceVector], position: dict[str, Any], copied: dict[str, int]) -> None:
        assert self.target_vectors is not None
        self.target_vectors.put_vectors(batch, chunk_size=self.batch_size)
        position[name] = batch[-1].position
        copied[name] += len(batch)
        self._save(position, copied)
        self.progress(name, len(batch))

    def _copy_pictures(self, position: dict[str, Any], copied: dict[str, int]) -> None:
        """The look vectors, in the source's order, resumable after the last position copied."""
        if self.source_pictures is None or self.target_pictures is None:
            return
        copied.setdefault("looks", 0)
        batch: list[PictureVector] = []
        last = int(position.get("looks") or 0)
        for at, vector in self.source_pictures.iter_vectors(LOOK, after=last):
            batch.append(vector)
            last = at
            if len(batch) == self.batch_size:
                copied["looks"] += self.target_pictures.put_many(LOOK, batch)
                position["looks"] = last
                self._save(position, copied)
                self.progress("looks", len(batch))
                batch = []
        if batch:
            copied["looks"] += self.target_pictures.put_many(LOOK, batch)
            position["looks"] = last
            self._save(position, copied)
            self.progress("looks", len(batch))

    # ---- checking ------------------------------------------------------------------------------------------------
    def verify(self) -> Counts:
        """Source and target counts per kind; CountMismatch (naming each kind that differs) unless all agree."""
        source = self.source_counts()
        stats = self.target.stats()
        target = {status: int(stats.get(status, 0)) for status in STATUSES}
        for name, kind in VECTOR_KINDS.items():
            target[name] = self.target_vectors.count_vectors(kind) if self.target_vectors is not None else 0
        if self.target_pictures is not None:
            target["looks"] = self.target_pictures.count(LOOK)
        report = Counts(source, target)
        if not report.verified:
            differing = ", ".join(f"{kind}: {source[kind]:,} in the source, {target[kind]:,} in the target"
                                  for kind in source if source[kind] != target[kind])
            raise CountMismatch(f"the copy does not match the source ({differing}); rerun with --restart, or look "
                                "for writes to either side during the copy", report)
        return report
