"""Fakes at the seams (cosmicpython style): small, honest in-memory versions of the ports, for the use-case tests.
The real adapters have their own tests against moto, osmem-server and the real models."""

from __future__ import annotations

import copy
import threading
from collections import Counter
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from mediaindex.domain.errors import BadMedia, ObjectNotFound, TransientError, VersionConflict
from mediaindex.domain.model import Analysis, Box, Face, FaceMatch, Label
from mediaindex.adapters.index import common
from mediaindex.domain.expressions import resolve_people
from mediaindex.domain.query import Query
from mediaindex.ports import ObjectInfo, ObjectRef, SearchResult, StoredObject, Versioned
from tests.index import reference


class FakeIndex:
    """The whole Index port in memory: documents with integer versions, compare-and-set writes, searches answered
    by the reference semantics of the query model (tests/index/reference.py)."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[dict[str, Any], int]] = {}
        self.lock = threading.Lock()
        self.puts = 0

    def ensure_ready(self) -> None:
        pass

    def exists(self) -> bool:
        return True

    # ---- reading ----
    def get(self, doc_id: str) -> Versioned | None:
        with self.lock:
            found = self.docs.get(doc_id)
            return Versioned(copy.deepcopy(found[0]), found[1]) if found else None

    def get_many(self, doc_ids: Sequence[str]) -> dict[str, Versioned]:
        with self.lock:
            return {i: Versioned(copy.deepcopy(self.docs[i][0]), self.docs[i][1]) for i in doc_ids if i in self.docs}

    def iter_documents(self, include_deleted: bool = False, after: str | None = None) -> Iterator[dict[str, Any]]:
        with self.lock:  # a snapshot: writes while the caller walks it do not disturb the walk
            found = [copy.deepcopy(d) for d, _ in self.docs.values() if include_deleted or d.get("status") != "deleted"]
        if after is not None:
            found = sorted((d for d in found if d["id"] > after), key=lambda d: d["id"])
        yield from found

    def find_by_content(self, content_sha256: str, analyzer: str) -> dict[str, Any] | None:
        for doc, _ in self.docs.values():
            if doc.get("content_sha256") == content_sha256 and doc.get("analyzer") == analyzer and doc.get("status") == "indexed":
                return copy.deepcopy(doc)
        return None

    def documents_with_content(self, content_sha256s) -> list[dict[str, Any]]:
        wanted = set(content_sha256s)
        with self.lock:
            found = [copy.deepcopy(d) for d, _ in self.docs.values()
                     if d.get("content_sha256") in wanted and d.get("status") == "indexed"]
        return sorted(found, key=lambda d: d["id"])

    def live(self) -> dict[str, dict[str, Any]]:
        """key -> document, for documents that are not tombstones."""
        return {d["key"]: d for d, _ in self.docs.values() if d.get("status") != "deleted"}

    # ---- writing ----
    def put(self, doc: dict[str, Any], expected_version: Any | None) -> None:
        with self.lock:
            current = self.docs.get(doc["id"])
            if (current[1] if current else None) != expected_version:
                raise VersionConflict(doc["id"])
            self._store(doc)

    def _store(self, doc: dict[str, Any]) -> None:
        current = self.docs.get(doc["id"])
        self.docs[doc["id"]] = (copy.deepcopy(doc), (current[1] + 1) if current else 1)
        self.puts += 1

    def update_fields(self, doc_id: str, fields: dict[str, Any], expected_version: Any) -> None:
        if "id" in fields and fields["id"] != doc_id:
            raise ValueError("update_fields cannot change a document's id")
        with self.lock:
            current = self.docs.get(doc_id)
            if current is None or current[1] != expected_version:
                raise VersionConflict(f"document {doc_id} changed or is gone")
            self._store({**current[0], **fields})

    def put_many(self, docs: Iterable[dict[str, Any]], chunk_size: int = 500) -> int:
        written = 0
        with self.lock:
            for doc in docs:
                self._store(doc)
                written += 1
        return written

    def delete_document(self, doc_id: str) -> None:
        with self.lock:
            self.docs.pop(doc_id, None)

    def purge_tombstones(self, older_than_iso: str) -> int:
        with self.lock:
            old = [i for i, (d, _) in self.docs.items()
                   if d.get("status") == "deleted" and (d.get("indexed_at") or "") < older_than_iso]
            for doc_id in old:
                del self.docs[doc_id]
        return len(old)

    # ---- searching ----
    def _matching(self, query: Any) -> list[dict[str, Any]]:
        query = Query.coerce(query)
        where = resolve_people(query.effective_where(), self.person_names)
        with self.lock:
            return [copy.deepcopy(d) for d, _ in self.docs.values() if reference.matches(where, d)]

    def search(self, query: Any) -> SearchResult:
        query = Query.coerce(query)
        found = self._matching(query)
        sort = query.sort
        if sort.field == "relevance":  # by the reference's score, ties newest taken first, as both backends
            field, descending = "taken_at", True
            where = resolve_people(query.effective_where(), self.person_names)
            scores = {d["id"]: reference.relevance(where, d) for d in found}
        else:
            field, descending, scores = sort.field, sort.descending, {}
        # missing values count as smallest and ties follow the direction, as both backends do
        found.sort(key=lambda d: (float(np.float32(scores.get(d["id"], 0.0))), d.get(field) is not None,
                                  d.get(field) or "", d["id"]), reverse=descending)
        facets = {name: self._facet(name, found, query.facet_size) for name in query.facets}
        return SearchResult(len(found), found[query.offset:query.offset + query.limit], facets)

    @staticmethod
    def _facet(name: str, docs: list[dict[str, Any]], size: int) -> dict[str, int]:
        values = {
            "labels": lambda d: d.get("label_names") or [],
            "people": lambda d: d.get("people") or [],
            "emotions": common.face_emotions,
            "media_type": lambda d: [d["media_type"]] if d.get("media_type") else [],
        }[name]
        counts = Counter(v for d in docs for v in set(values(d)))
        return dict(sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))[:size])

    def count(self, query: Any) -> int:
        return len(self._matching(query))

    def person_names(self) -> list[str]:
        with self.lock:
            return sorted({p for d, _ in self.docs.values() if d.get("status") != "deleted" for p in d.get("people") or []})

    def stats(self) -> dict[str, Any]:
        with self.lock:
            docs = [d for d, _ in self.docs.values()]
        by_status = Counter(d.get("status") for d in docs)
        indexed = [d for d in docs if d.get("status") == "indexed"]
        # the latest failures first (undated last), ties by id, as the backends order them
        failed = sorted((d for d in docs if d.get("status") == "failed"), key=lambda d: d["id"])
        failed.sort(key=lambda d: (d.get("indexed_at") is not None, d.get("indexed_at") or ""), reverse=True)
        live = [d for d in docs if d.get("status") in ("indexed", "failed")]
        return {
            "documents": by_status["indexed"] + by_status["failed"],
            "indexed": by_status["indexed"],
            "failed": by_status["failed"],
            "deleted": by_status["deleted"],
            "media_types": self._facet("media_type", live, 50),
            "top_labels": [[v, c] for v, c in self._facet("labels", indexed, common.STATS_LIMIT).items()],
            "people": [[v, c] for v, c in self._facet("people", indexed, common.STATS_LIMIT).items()],
            "failures": [{"key": d.get("key"), "error": d.get("error")} for d in failed[:common.STATS_LIMIT]],
        }

    def refresh(self) -> None:
        pass


class FakeStorage:
    """A dict of key -> bytes in one bucket, with S3-like etags."""

    def __init__(self, bucket: str = "media") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}
        self.modified: dict[str, str] = {}  # key -> last_modified, for the files a test gives one
        self.reads = 0

    def write(self, key: str, data: bytes, modified: str | None = None) -> None:
        self.objects[key] = data
        if modified is not None:
            self.modified[key] = modified

    def read(self, ref: ObjectRef) -> StoredObject:
        self.reads += 1
        if ref.key not in self.objects:
            raise ObjectNotFound(ref.key)
        data = self.objects[ref.key]
        import hashlib

        return StoredObject(ref, data, len(data), hashlib.md5(data).hexdigest(), last_modified=self.modified.get(ref.key))

    def exists(self, ref: ObjectRef) -> bool:
        return ref.key in self.objects

    def list(self, bucket: str, prefix: str = ""):
        for key, data in sorted(self.objects.items()):
            if key.startswith(prefix):
                yield ObjectInfo(ObjectRef(bucket, key), len(data))


class FakeAnalyzer:
    """Labels every picture "thing" and finds one face; counts its calls; can be told to fail."""

    name = "fake"
    face_model = None

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.calls = 0
        self.fail_with = fail_with

    def analyze(self, picture) -> Analysis:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        w, h = picture.width, picture.height
        return Analysis(
            analyzer=self.name,
            labels=[Label("Thing", 90.0, parents=["Object"]), Label(f"Wide" if w > h else "Tall", 70.0)],
            faces=[Face(Box(0.1, 0.1, 0.2, 0.2), 99.0, embedding=[0.0] * 4)],
            api_calls=2,
        )


class FakeFaces:
    """The whole FaceCollection port in memory: every face is `person` (None: nobody is enrolled), one paid call
    per face identified; enrolment keeps (name, source) per face id."""

    def __init__(self, person: str | None = "Ada Lovelace") -> None:
        self.person = person
        self.remembered: dict[str, int] = {}
        self.enrolled: dict[str, tuple[str, str]] = {}  # face id -> (person, source)

    def is_empty(self) -> bool:
        return self.person is None and not self.enrolled

    def remember(self, content_sha256: str, faces: Sequence[Face]) -> None:
        self.remembered[content_sha256] = len(faces)

    def has_remembered(self, content_sha256: str, face_count: int) -> bool:
        return True  # as Rekognition's: remember() is not needed to match again

    def hidden_boxes(self, content_sha256: str) -> list[Box]:
        return []

    def identify(self, picture, faces: Sequence[Face]):
        return [FaceMatch(self.person, "face-1", 95.0) for _ in faces], len(faces)

    def enroll(self, name: str, picture, source: str) -> list[str]:
        face_id = f"face-{len(self.enrolled) + 2}"
        self.enrolled[face_id] = (name, source)
        return [face_id]

    def remove_source(self, source: str, keep: Iterable[str] = ()) -> int:
        return self._remove(lambda person, src: src == source, set(keep))

    def remove_person(self, name: str) -> int:
        return self._remove(lambda person, src: person == name, set())

    def list_people(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for person, _ in self.enrolled.values():
            counts[person] = counts.get(person, 0) + 1
        return dict(sorted(counts.items()))

    def _remove(self, chosen, keep: set[str]) -> int:
        gone = [fid for fid, (person, src) in self.enrolled.items() if chosen(person, src) and fid not in keep]
        for fid in gone:
            del self.enrolled[fid]
        return len(gone)
