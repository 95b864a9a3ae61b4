"""The small interfaces the use cases depend on. Adapters (S3 or a folder, Rekognition or local models, OpenSearch
or SQLite) implement them; `bootstrap.py` picks which from the settings. Nothing here knows where it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, Sequence, runtime_checkable

from mediaindex.domain.model import Analysis, Face, FaceMatch
from mediaindex.media.picture import Picture


@dataclass(frozen=True)
class ObjectRef:
    """Where a file lives: an S3 bucket and key, or a folder (its absolute path as `bucket`) and a path in it."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"{self.bucket}/{self.key}" if self.bucket else self.key


@dataclass
class StoredObject:
    ref: ObjectRef
    data: bytes
    size: int
    etag: str | None = None
    content_type: str | None = None
    last_modified: str | None = None  # ISO 8601


@dataclass
class ObjectInfo:
    """A listing entry: enough to decide whether a file needs indexing without reading it."""

    ref: ObjectRef
    size: int
    etag: str | None = None
    last_modified: str | None = None


class Storage(Protocol):
    def read(self, ref: ObjectRef) -> StoredObject:
        """The whole object. Raises ObjectNotFound when it is gone, TransientError on a passing fault."""

    def exists(self, ref: ObjectRef) -> bool: ...

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]: ...


class Analyzer(Protocol):
    name: str
    # the vector space of the face vectors it makes (domain/face_vectors.py); None when it makes none (Rekognition
    # keeps its vectors to itself). A document analysed with another face model is analysed again.
    face_model: str | None

    def analyze(self, picture: Picture) -> Analysis:
        """Labels, faces (with attributes) and, if configured, text and moderation. Raises BadMedia for a picture
        the analyzer refuses, TransientError when throttled or down."""


@runtime_checkable
class FaceAnalyzer(Protocol):
    """Optional, for analyzers whose faces carry embeddings (the local models): faces alone, without labels. The
    video indexer runs it on the frames that follow each sample to follow faces (domain/face_tracks.py)."""

    def analyze_faces(self, picture: Picture) -> list[Face]: ...


class FaceCollection(Protocol):
    """The known people: enrolled faces and the matching of new faces against them."""

    def identify(self, picture: Picture, faces: Sequence[Face]) -> tuple[list[FaceMatch | None], int]:
        """For each face (in order), the best match among enrolled faces above the threshold, or None; and how
        many paid API calls that took (0 for local matching)."""

    def is_empty(self) -> bool: ...

    def remember(self, content_sha256: str, faces: Sequence[Face]) -> None:
        """Keep what is needed to match these faces again later without re-analysing the file (the local
        collection keeps the embeddings; Rekognition needs nothing). Called for every newly analysed picture."""


@dataclass
class Versioned:
    """A stored document and the opaque token that a conditional write must present to replace it."""

    doc: dict[str, Any]
    version: Any


@dataclass
class SearchResult:
    total: int
    hits: list[dict[str, Any]]
    # counts per facet, e.g. {"labels": {"dog": 3}, "people": {"Barack Obama": 2}}
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


class Index(Protocol):
    """One document per file, keyed by `document_id(ref)`. Writes are conditional (compare-and-set) so that two
    workers handling events for one key never both win."""

    def ensure_ready(self) -> None:
        """Create the index (mapping, alias, tables) if it does not exist. Idempotent."""

    def get(self, doc_id: str) -> Versioned | None: ...

    def put(self, doc: dict[str, Any], expected_version: Any | None) -> None:
        """Write `doc` (its `id` field is the key) if the stored version is still `expected_version` (None: no
        document may exist yet). Raises VersionConflict otherwise, TransientError when the backend is down."""

    def find_by_content(self, content_sha256: str, analyzer: str) -> dict[str, Any] | None:
        """An indexed document with the same bytes analysed by the same analyzer, to reuse its analysis."""

    def search(self, query: Any) -> SearchResult: ...

    def refresh(self) -> None:
        """Make recent writes visible to search (OpenSearch refresh); a no-op where writes are visible at once."""


class Metrics(Protocol):
    def count(self, name: str, value: float = 1) -> None: ...


# ---- video state (a video analysed over several invocations) -------------------------------------------------------
class VideoStateStore(Protocol):
    """The partial timeline of a video whose analysis continues in a later invocation, by state key."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, state: dict[str, Any]) -> None: ...

    def delete(self, key: str) -> None: ...
