"""Fakes at the seams (cosmicpython style): small, honest in-memory versions of the ports, for the use-case tests.
The real adapters have their own tests against moto, osmem-server and the real models."""

from __future__ import annotations

import copy
import threading
from typing import Any, Iterable, Sequence

from mediaindex.domain.errors import BadMedia, ObjectNotFound, TransientError, VersionConflict
from mediaindex.domain.model import Analysis, Box, Face, FaceMatch, Label
from mediaindex.ports import ObjectInfo, ObjectRef, SearchResult, StoredObject, Versioned


class FakeIndex:
    def __init__(self) -> None:
        self.docs: dict[str, tuple[dict[str, Any], int]] = {}
        self.lock = threading.Lock()
        self.puts = 0

    def ensure_ready(self) -> None:
        pass

    def get(self, doc_id: str) -> Versioned | None:
        with self.lock:
            found = self.docs.get(doc_id)
            return Versioned(copy.deepcopy(found[0]), found[1]) if found else None

    def put(self, doc: dict[str, Any], expected_version: Any | None) -> None:
        with self.lock:
            current = self.docs.get(doc["id"])
            if (current[1] if current else None) != expected_version:
                raise VersionConflict(doc["id"])
            self.docs[doc["id"]] = (copy.deepcopy(doc), (current[1] + 1) if current else 1)
            self.puts += 1

    def find_by_content(self, content_sha256: str, analyzer: str) -> dict[str, Any] | None:
        for doc, _ in self.docs.values():
            if doc.get("content_sha256") == content_sha256 and doc.get("analyzer") == analyzer and doc.get("status") == "indexed":
                return copy.deepcopy(doc)
        return None

    def live(self) -> dict[str, dict[str, Any]]:
        """key -> document, for documents that are not tombstones."""
        return {d["key"]: d for d, _ in self.docs.values() if d.get("status") != "deleted"}

    def search(self, query: Any) -> SearchResult:
        hits = [d for d in self.live().values() if d.get("status") == "indexed"]
        return SearchResult(len(hits), hits)

    def refresh(self) -> None:
        pass


class FakeStorage:
    """A dict of key -> bytes in one bucket, with S3-like etags."""

    def __init__(self, bucket: str = "media") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}
        self.reads = 0

    def write(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    def read(self, ref: ObjectRef) -> StoredObject:
        self.reads += 1
        if ref.key not in self.objects:
            raise ObjectNotFound(ref.key)
        data = self.objects[ref.key]
        import hashlib

        return StoredObject(ref, data, len(data), hashlib.md5(data).hexdigest())

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
