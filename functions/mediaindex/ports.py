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


# ---- backfill: listing an archive, handing files over, keeping the checkpoint ----------------------------------------
from typing import TYPE_CHECKING, Callable  # noqa: E402 - kept with the sections that need them

if TYPE_CHECKING:  # the use cases' own types, for annotations only (the use cases import this module)
    from concurrent.futures import Executor

    from mediaindex.services.indexing import StorageEvent
    from mediaindex.services.runner import OutcomeTally


@dataclass
class Listed:
    """One object to consider, with the position a rerun would resume after."""

    info: ObjectInfo
    position: str
    storage_class: str | None = None


class ListingSource(Protocol):
    """An archive listed in a stable order (a bucket, an S3 Inventory, a folder), resumable after a position."""

    bucket: str

    def pages(self, position: str | None) -> Iterator[list[Listed]]:
        """Pages of objects in a stable order, starting after `position` (None: from the start)."""

    def describe(self) -> str: ...


class IndexRequestSink(Protocol):
    """Where a backfill hands over the files to index (a queue, or workers here), in listing order. It says how far
    everything is safely handed over, so the checkpoint never passes a file that is not."""

    mode: str  # "queue" or "direct", as the summary names it

    def submit(self, event: StorageEvent, position: str) -> int:
        """Hand over one file; returns how many files this call handed over (a queue sends in batches)."""

    def skip(self, position: str) -> None:
        """A file that needs no work, in its place in the order."""

    def flush(self) -> int:
        """The end of a page: hand over what is held back; returns how many files that handed over."""

    def checkpoint(self) -> str | None:
        """The last position such that it and every one before it is handed over; None when it has not moved
        since the last call."""

    def drain(self) -> None:
        """Wait for the files being handled (direct mode); nothing to do for a queue."""

    def take_results(self) -> OutcomeTally:
        """What came of the files handled here since the last call (a queue's are handled elsewhere: none)."""


class CheckpointStore(Protocol):
    """The checkpoint of one listing source between runs."""

    def load(self) -> dict[str, Any] | None:
        """{"source", "checkpoint", "done", "totals"} saved last, or None."""

    def save(self, checkpoint: str | None, done: bool, totals: dict[str, Any]) -> None: ...

    def clear(self) -> None: ...


# ---- bulk indexing: worker processes ---------------------------------------------------------------------------------
# How far the video in hand has got: (key, seconds of video done, duration or 0).
VideoProgress = Callable[[str, float, float], None]


class WorkerProcesses(Protocol):
    """Worker processes that each build their own pipeline (the local models: CPU-bound, loaded once a process);
    the entry point sets them up (entrypoints/workers.py)."""

    task: Callable[[StorageEvent], dict[str, Any]]  # what a worker runs for one file: its outcome as plain data

    def start(self, workers: int, report: VideoProgress | None = None) -> Executor:
        """A pool of `workers` processes, ready (ConfigurationError when they cannot start); `report` hears how
        far their videos have got."""

    def terminate(self, pool: Executor) -> None:
        """End the pool's processes at once."""

    def close(self) -> None:
        """The run is over: stop relaying progress."""
