"""The small interfaces the use cases depend on. Adapters (S3 or a folder, Rekognition or local models, OpenSearch
or SQLite) implement them; `bootstrap.py` picks which from the settings. Nothing here knows where it runs."""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

from mediaindex.domain.document import DocumentFields, SearchDocument
from mediaindex.domain.face_clusters import ClusterMember, FaceRef
from mediaindex.domain.face_vectors import VectorSpace
from mediaindex.domain.messages import OutcomeTally, StorageEvent
from mediaindex.domain.model import Analysis, Box, Face, FaceMatch
# the addresses the ports speak of, re-exported: adapters and services name them as part of the seam
from mediaindex.domain.objects import ObjectInfo as ObjectInfo, ObjectRef as ObjectRef
from mediaindex.domain.places import Place
from mediaindex.domain.query import Query
from mediaindex.media.picture import Picture


# the first bytes of a file kept for sniffing (media/sniff.py reads 512 at most)
HEAD_BYTES = 512


class StoredObject:
    """A file read from storage, and what storage says of it. A small file's bytes are in memory (`data`); a large
    one (a video) is kept in `file` instead, never whole in memory: the folder file itself, still open, or an S3
    object streamed to an unnamed temporary file. `open()` hands the bytes to a reader that takes a file (the video
    decoder) either way; `data` reads them whole only when asked (a picture). `sha256` and `head` (the first bytes,
    for sniffing) were taken while the bytes streamed past, or are taken from `data`. `close()` (or `with`) lets the
    file go, and a temporary copy with it."""

    def __init__(self, ref: ObjectRef, data: bytes | None = None, size: int | None = None, etag: str | None = None,
                 content_type: str | None = None, last_modified: str | None = None, *,
                 file: BinaryIO | None = None, sha256: str | None = None, head: bytes | None = None) -> None:
        if (data is None) == (file is None):
            raise ValueError("a stored object has its bytes in memory or in a file, one of the two")
        self.ref, self.etag, self.content_type, self.last_modified = ref, etag, content_type, last_modified
        self._data, self.file = data, file
        if size is None:
            if data is None:
                raise ValueError("the size of a stored object kept in a file must be given")
            size = len(data)
        self.size = size
        self._sha256, self._head = sha256, head

    @property
    def data(self) -> bytes:
        """All the bytes; read from the file (and kept) the first time they are asked for."""
        if self._data is None:
            assert self.file is not None
            self.file.seek(0)
            self._data = self.file.read()
        return self._data

    @property
    def in_memory(self) -> bool:
        return self._data is not None

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = hashlib.sha256(self.data).hexdigest()
        return self._sha256

    @property
    def head(self) -> bytes:
        if self._head is None:
            if self._data is not None:
                self._head = self._data[:HEAD_BYTES]
            else:
                assert self.file is not None
                self.file.seek(0)
                self._head = self.file.read(HEAD_BYTES)
        return self._head

    def open(self) -> BinaryIO:
        """The bytes as a seekable file at its start: the file kept (the same one each time: one reader at a time),
        or the bytes in memory in a BytesIO (which shares them: no copy)."""
        if self.file is not None and self._data is None:
            self.file.seek(0)
            return self.file
        return io.BytesIO(self.data)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def __enter__(self) -> "StoredObject":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "memory" if self._data is not None else "a file"
        return f"StoredObject({self.ref!r}, {self.size:,} bytes in {where})"


class Storage(Protocol):
    def read(self, ref: ObjectRef) -> StoredObject:
        """The whole object, hashed as it is read; a large one kept in a file, not in memory (StoredObject). The
        caller closes it. Raises ObjectNotFound when it is gone, TransientError on a passing fault."""

    def exists(self, ref: ObjectRef) -> bool: ...

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]: ...


class Analyzer(Protocol):
    name: str

    @property
    def face_model(self) -> str | None:
        """The vector space of the face vectors it makes (domain/face_vectors.py); None when it makes none
        (Rekognition keeps its vectors to itself). A document analysed with another face model is analysed again."""

    def analyze(self, picture: Picture) -> Analysis:
        """Labels, faces (with attributes) and, if configured, text and moderation. Raises BadMedia for a picture
        the analyzer refuses, TransientError when throttled or down."""


class TextImageEmbedder(Protocol):
    """Pictures and sentences as vectors of one image-text space (CLIP, Amazon Titan Multimodal Embeddings): a
    description's vector lies near the vectors of the pictures it describes. A picture's vector is kept by content
    in PictureVectors (kind "meaning", below); vectors of two models (two `model` ids) are never compared."""

    @property
    def model(self) -> str:
        """The space's id, stored with every vector: "titan-embed-image-v1:1024", "clip-onnx:<sha256 prefix>"."""

    @property
    def dimensions(self) -> int:
        """How many numbers a vector has."""

    def embed_image(self, picture: Picture) -> list[float] | None:
        """The picture's unit vector; None for a picture too small or too blank to mean anything (a black frame, a
        1-pixel image). Raises TransientError when throttled or down."""

    def embed_text(self, text: str) -> list[float]:
        """The unit vector of a description ("a dog on the beach"). Raises TransientError when throttled or down."""


class PlaceFinder(Protocol):
    """Reverse geocoding: the place a GPS position lies in (adapters/places/geonames.py, offline, on every
    deployment; the rules are in domain/places.py)."""

    def place_at(self, lat: float, lon: float) -> Place | None:
        """The town, its metro, region and country at this position; None when it is no position (missing, NaN,
        out of range, the (0, 0) of "no fix") or far from any town and country (the open sea)."""


@runtime_checkable
class LibraryFaces(Protocol):
    """A face collection that also keeps every indexed picture's faces in a collection of their own, keyed by the
    picture's content_sha256 (Rekognition's, with MEDIAINDEX_LIBRARY_COLLECTION), so that after an enrolment one
    search of the new face finds the indexed faces it matches, instead of one search per indexed face."""

    @property
    def keeps_library_faces(self) -> bool: ...

    def keep_library_faces(self, content_sha256: str, picture: Picture) -> tuple[bool, int]:
        """Index the faces of a newly analysed picture into the library collection: (kept, paid calls)."""

    def library_matches(self, picture: Picture) -> tuple[list[LibraryMatch], bool, int]:
        """The library faces matching the largest face of `picture` (an enrolment photo), above the threshold:
        (matches, whether the search hit its limit so some may be missing, paid calls)."""

    def forget_library_faces(self, face_ids: Sequence[str]) -> int:
        """Delete library faces whose pictures are no longer indexed; how many went."""


@dataclass(frozen=True)
class LibraryMatch:
    content_sha256: str
    box: Box
    similarity: float
    face_id: str


@runtime_checkable
class VersionedEnrolment(Protocol):
    """A face collection that records which version of an enrolment photo (its ETag and size, as
    `people_rules.enrolment_version` hashes them) each face came from, so that the same photo sent again (a
    backfill run, a redelivery) is recognised and neither enrolled nor re-matched again (Rekognition's)."""

    def enrolled_versions(self, source: str) -> set[str]:
        """The versions of the faces enrolled from `source` (empty: none, or enrolled before versions were kept)."""

    def enroll_version(self, name: str, picture: Picture, source: str, version: str) -> list[str]:
        """`enroll`, recording `version` with the faces."""


@runtime_checkable
class FaceAnalyzer(Protocol):
    """Optional, for analyzers whose faces carry embeddings (the local models): faces alone, without labels. The
    video indexer runs it on the frames that follow each sample to follow faces (domain/face_tracks.py)."""

    def analyze_faces(self, picture: Picture, seen: Analysis | None = None) -> list[Face]: ...


@runtime_checkable
class FaceEmbedder(Protocol):
    """Optional, for analyzers that can give a picture's face boxes and vectors without the attributes (the local
    models: two models loaded, not five). Enrolment, search by face and compare use it when they have one, and the
    analyzer's whole analysis otherwise."""

    def face_vectors(self, picture: Picture) -> list[Face]: ...


class FaceComparer(Protocol):
    """Compares the faces of two pictures itself, for a face service that never gives out vectors (Rekognition's
    CompareFaces). Where faces carry vectors, the use case compares those instead and needs none."""

    def compare(self, a: Picture, b: Picture) -> tuple[list[tuple[int, int, float]], list[Face], list[Face], int]:
        """(pairs (face of a, face of b, similarity 0-100), faces of a, faces of b, paid API calls)."""


class FaceCollection(Protocol):
    """The known people: enrolled faces and the matching of new faces against them. Every collection implements
    all of it (Rekognition's and the local one)."""

    def identify(self, picture: Picture, faces: Sequence[Face]) -> tuple[list[FaceMatch | None], int]:
        """For each face (in order), the best match among enrolled faces above the threshold, or None; and how
        many paid API calls that took (0 for local matching)."""

    def is_empty(self) -> bool: ...

    def remember(self, content_sha256: str, faces: Sequence[Face]) -> None:
        """Keep what is needed to match these faces again later without re-analysing the file (the local
        collection keeps the embeddings; Rekognition needs nothing). Called for every newly analysed picture."""

    def has_remembered(self, content_sha256: str, face_count: int) -> bool:
        """Does the collection hold what `remember` keeps for these bytes' `face_count` faces? False asks for the
        file to be analysed again rather than its analysis copied (Rekognition needs nothing: always True)."""

    def hidden_boxes(self, content_sha256: str) -> list[Box]:
        """The boxes marked "not a face" in these bytes, left out whenever they are analysed again ([] where no
        marks are kept: only the local collection keeps them)."""

    def enroll(self, name: str, picture: Picture, source: str) -> list[str]:
        """Enrol the largest face of `picture` as `name`, from `source` (a photo's path or key); the face ids kept
        ([] or BadMedia when there is no face to keep)."""

    def remove_source(self, source: str, keep: Iterable[str] = ()) -> int:
        """Delete the faces enrolled from `source`, except the face ids in `keep`; how many went."""

    def remove_person(self, name: str) -> int:
        """Delete every face enrolled as `name`; how many went."""

    def list_people(self) -> dict[str, int]:
        """Enrolled person -> how many faces, by name."""


@runtime_checkable
class FaceMemory(Protocol):
    """Optional, for a collection that keeps the vector of every analysed face (the local one; Rekognition keeps
    enrolled faces only): re-matching without reading files, search by face, clusters of unnamed faces, "not a
    face" marks, merges, and a note of re-matches still owed to the documents. The use cases get it from bootstrap
    beside the collection, or None."""

    @property
    def space(self) -> VectorSpace:
        """The face model whose vectors are matched; vectors of other models wait (stale())."""

    def replace_source(self, name: str, source: str, embeddings: Iterable[Sequence[float]]) -> list[str]:
        """The faces enrolled from `source` become these (none: the photo is forgotten), in one transaction."""

    def enroll_embeddings(self, name: str, embeddings: Iterable[Sequence[float]], source: str) -> list[str]: ...

    def merge_people(self, source: str, target: str) -> int:
        """Every face enrolled as `source` becomes `target`'s, in one transaction; how many moved."""

    def stale(self) -> dict[str, Any]:
        """Made by another face model: {"enrolments": [(person, source)], "remembered_faces": count}."""

    def matches_for_content(self, content_sha256: str) -> list[FaceMatch | None] | None:
        """These bytes' remembered faces matched again, in face order; None when nothing is remembered."""

    def all_matches(self) -> dict[str, list[FaceMatch | None]]:
        """matches_for_content for every remembered picture at once, by content_sha256."""

    def remembered_count(self, content_sha256: str) -> int: ...

    def hidden_faces(self) -> dict[str, list[Box]]:
        """content_sha256 -> the boxes marked "not a face" in those bytes."""

    def hide_face(self, content_sha256: str, face_index: int, box: Box) -> None:
        """Mark the face at `box` of these bytes as not a face, and forget its vector (with a re-match note)."""

    def unhide_faces(self, content_sha256: str) -> int:
        """Forget the marks of these bytes and their remembered faces; how many marks."""

    def pending_rematch(self) -> tuple[int, set[str]] | None:
        """(last change noted, names that lost faces) while the documents may not follow the collection yet."""

    def note_rematch(self) -> None: ...

    def rematch_done(self, upto: int) -> None: ...

    def nearest(self, embedding: Sequence[float], k: int = 10,
                min_similarity: float | None = None) -> list[tuple[FaceRef, float]]:
        """The k remembered faces closest to `embedding`, best first, with their similarity."""

    def clusters(self, min_size: int = 1, unnamed_only: bool = True) -> dict[str, list[ClusterMember]]:
        """Cluster id -> its faces, biggest first; with `unnamed_only`, faces matching somebody enrolled are left out."""

    def split_cluster(self, cluster: int, refs: Sequence[FaceRef]) -> tuple[str, str]:
        """Move `refs` out of `cluster` into a cluster kept apart; (their cluster, the rest's cluster)."""


@dataclass
class Versioned:
    """A stored document and the opaque token that a conditional write must present to replace it."""

    doc: SearchDocument
    version: Any


@dataclass
class SearchResult:
    total: int
    hits: list[SearchDocument]
    # counts per facet, e.g. {"labels": {"dog": 3}, "people": {"Barack Obama": 2}}
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


class Index(Protocol):
    """One document per file, keyed by `document_id(ref)`. Writes are conditional (compare-and-set) so that two
    workers handling events for one key never both win. Everything the use cases ask of an index is declared here,
    and both backends (SQLite, OpenSearch) and the test fake implement all of it."""

    def ensure_ready(self) -> None:
        """Create the index (mapping, alias, tables) if it does not exist. Idempotent."""

    def exists(self) -> bool:
        """Is the index there already? Creates nothing: a reader with read-only access asks this."""

    # ---- reading documents ---------------------------------------------------------------------------------------
    def get(self, doc_id: str) -> Versioned | None: ...

    def get_many(self, doc_ids: Sequence[str]) -> dict[str, Versioned]:
        """The documents of these ids in few round trips (SQLite `IN`, OpenSearch `mget`); ids the index does not
        hold are absent from the result."""

    def iter_documents(self, include_deleted: bool = False, after: str | None = None) -> Iterator[SearchDocument]:
        """Every document (tombstones too when `include_deleted`), page by page: for the use cases that walk the
        whole index (reconcile, prune, re-matching people). With `after`: in id order, from the first id above it
        (a walk resumed in another process)."""

    def find_by_content(self, content_sha256: str, analyzer: str) -> SearchDocument | None:
        """An indexed document with the same bytes analysed by the same analyzer, to reuse its analysis."""

    def documents_with_content(self, content_sha256s: Sequence[str]) -> list[SearchDocument]:
        """Every indexed document holding any of these bytes (copies included), in id order."""

    # ---- writing documents ---------------------------------------------------------------------------------------
    def put(self, doc: SearchDocument, expected_version: Any | None) -> None:
        """Write `doc` (its `id` field is the key) if the stored version is still `expected_version` (None: no
        document may exist yet). Raises VersionConflict otherwise, TransientError when the backend is down."""

    def update_fields(self, doc_id: str, fields: DocumentFields, expected_version: Any) -> None:
        """Replace top-level fields of a document if it is still at `expected_version` (derived fields such as
        `people` and `face_count` are the caller's to pass along). Raises VersionConflict when it changed or is
        gone."""

    def put_many(self, docs: Iterable[SearchDocument], chunk_size: int = 500) -> int:
        """Write documents unconditionally in batches (no compare-and-set), for loading an index nobody else is
        writing (migrations, benchmarks, tests). Returns how many were written."""

    def delete_document(self, doc_id: str) -> None:
        """Remove a document physically (not a tombstone); no error when it is not there."""

    def purge_tombstones(self, older_than_iso: str) -> int:
        """Remove the tombstones written (`indexed_at`) before `older_than_iso`; returns how many."""

    # ---- searching -----------------------------------------------------------------------------------------------
    def search(self, query: Query) -> SearchResult: ...

    def count(self, query: Query) -> int:
        """How many documents match the query (as `search(query).total`, without the hits)."""

    def person_names(self) -> list[str]:
        """Every known person some searchable document shows (the case may be the backend's: SQLite keeps it,
        OpenSearch lower-cases)."""

    def stats(self) -> dict[str, Any]:
        """An overview: documents per status, media types, the top labels and people, the latest failures."""

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

    def close(self) -> None:
        """Stop the workers (direct mode); nothing to do for a queue."""


class CheckpointStore(Protocol):
    """The checkpoint of one listing source between runs."""

    path: Any  # where it is kept, for telling the user

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

    @property
    def task(self) -> Callable[[StorageEvent], dict[str, Any]]:
        """What a worker runs for one file: its outcome as plain data (a module's function: it is pickled)."""

    def start(self, workers: int, report: VideoProgress | None = None) -> Executor:
        """A pool of `workers` processes, ready (ConfigurationError when they cannot start); `report` hears how
        far their videos have got."""

    def terminate(self, pool: Executor) -> None:
        """End the pool's processes at once."""

    def close(self) -> None:
        """The run is over: stop relaying progress."""


# ---- moving an embedded index to OpenSearch: the face vectors beside the documents ------------------------------------
FACE = "face"  # a remembered face of an analysed picture (search by face, clusters)
PERSON = "person"  # an enrolled face of a known person (identification)


@dataclass
class StoredFaceVector:
    """One face vector as it is copied and searched: a remembered face (`kind` FACE: content_sha256, face_index,
    box, cluster) or an enrolled one (`kind` PERSON: person, source)."""

    kind: str
    id: str  # stable across copies, so a rerun rewrites instead of duplicating
    model: str  # its vector space (domain/face_vectors.py)
    embedding: list[float]
    fields: dict[str, Any] = field(default_factory=dict)
    position: int = 0  # its place in the source's stable order, for resuming after it


class FaceVectorSource(Protocol):
    """The face vectors an embedded deployment keeps (the local collection's file), read in a stable order."""

    def count_vectors(self, kind: str) -> int: ...

    def iter_vectors(self, kind: str, after: int = 0) -> Iterator[StoredFaceVector]:
        """The vectors of `kind` whose position is past `after`, in position order."""


class FaceVectorIndex(Protocol):
    """Face vectors kept in a search cluster beside the documents (OpenSearch's k-NN field), searched there."""

    def ensure_ready(self) -> None: ...

    def put_vectors(self, vectors: Iterable[StoredFaceVector], chunk_size: int = 500) -> int:
        """Write unconditionally in bulk (same id: replaced); how many were written."""

    def delete_vectors(self, ids: Sequence[str]) -> int: ...

    def count_vectors(self, kind: str) -> int: ...

    def nearest_vectors(self, embedding: Sequence[float], space: VectorSpace, k: int = 10, kind: str = FACE,
                        min_similarity: float | None = None) -> list[tuple[StoredFaceVector, float]]:
        """The k vectors of `space` and `kind` closest to `embedding`, best first, with their 0-100 similarity
        (the returned vectors carry no embedding)."""

    def refresh(self) -> None: ...


# ---- picture vectors: look-alikes (and, later, search by description) ---------------------------------------------
@dataclass
class PictureVector:
    """One vector of one picture's content (or of one frame of a video: `part`), with the model that made it.
    `layout` is the picture's grey thumbnail (media/layout.py) for telling copies from other shots."""

    content_sha256: str
    model: str
    values: list[float]
    part: int = 0
    layout: bytes | None = None


class PictureVectors(Protocol):
    """Vectors of analysed pictures by content (domain/look_alikes.py), of several kinds (`look`: look-alikes), each
    tagged with its model: vectors of two models are never compared. The local file (adapters/vectors/local.py)
    or an OpenSearch index beside the documents (adapters/index/opensearch_vectors.py)."""

    def remember(self, kind: str, vectors: Sequence[PictureVector]) -> None:
        """Keep these vectors (all of one content), replacing what that content had of this kind."""

    def put_many(self, kind: str, vectors: Iterable[PictureVector]) -> int:
        """Write unconditionally in bulk (the same kind, content and part: replaced), for copies; how many."""

    def has(self, kind: str, content_sha256: str, model: str) -> bool: ...

    def vectors_of(self, kind: str, content_sha256: str) -> list[PictureVector]:
        """The content's vectors of this kind (a picture: one; a video: one per sampled frame), any model."""

    def nearest(self, kind: str, model: str, values: Sequence[float], k: int = 20,
                min_cosine: float | None = None) -> list[tuple[str, float]]:
        """The k contents whose vectors of `model` are closest to `values` (a content counts once, by its best
        part), best first, with the cosine similarity."""

    def iter_vectors(self, kind: str, model: str | None = None, after: int = 0) -> Iterator[tuple[int, PictureVector]]:
        """Every vector of the kind (and model), with its position in a stable order, starting after `after`."""

    def count(self, kind: str) -> int: ...

    def forget(self, kind: str, content_sha256s: Iterable[str]) -> int:
        """Drop the vectors of these contents; how many went."""


# ---- the bytes behind a document, for people to see (the web gallery) ---------------------------------------------
@dataclass(frozen=True)
class LocalFile:
    """A file on this machine, checked and sniffed: the web layer streams it (with Range and ETag)."""

    path: Path
    content_type: str
    media_type: str  # image or video


@dataclass(frozen=True)
class MediaLink:
    """A short-lived address elsewhere (an S3 presigned GET): the browser is sent there."""

    url: str


class MediaFiles(Protocol):
    """Where a document's file is for viewing, and its bytes for a thumbnail. Found from the document's bucket and
    key, never from anything a client sends; raises ObjectNotFound, AccessRefused or UnsupportedMedia."""

    # origins the browser loads media from besides this server (for the Content-Security-Policy); "" for none
    media_origin: str

    def locate(self, ref: ObjectRef, content_type: str | None = None) -> LocalFile | MediaLink: ...

    def read(self, ref: ObjectRef, max_bytes: int) -> bytes: ...


class RenderingCache(Protocol):
    """Thumbnails and face crops already rendered, by document (its id and content) and kind of rendering."""

    def get(self, doc: SearchDocument, kind: str) -> bytes | None: ...

    def put(self, doc: SearchDocument, kind: str, data: bytes) -> None: ...

    def forget(self, doc_id: str) -> None:
        """Drop every rendering of a document (its file left the index)."""
