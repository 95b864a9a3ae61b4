"""Wire adapters to the use cases from the settings. The only module that knows every adapter; each is imported
lazily so a Lambda function never loads the local models and a laptop never needs AWS credentials."""

from __future__ import annotations

from typing import Any

from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError
from mediaindex.ports import Analyzer, FaceCollection, Index, Metrics, Storage
from mediaindex.services.indexing import NullMetrics, Pipeline


def build_index(settings: Settings, create: bool = True) -> Index:
    """The index the settings name. `create=False` (read-only commands: search, stats, show, serve): an index
    that is not there is a configuration error ("no index at ..."), never a new empty one at a mistyped path."""
    from mediaindex.adapters.index.common import check_name

    url = settings.resolved_index_url
    try:
        check_name(settings.index_name)
    except ValueError as e:
        raise ConfigurationError(f"MEDIAINDEX_INDEX_NAME: {e}") from None
    if url.startswith("sqlite://"):
        from mediaindex.adapters.index.sqlite import SqliteIndex

        # As SQLAlchemy writes it: sqlite:///relative.db, sqlite:////absolute/path.db, sqlite:///:memory:
        if not url.startswith("sqlite:///") or url == "sqlite:///":
            raise ConfigurationError(f"MEDIAINDEX_INDEX={url!r}: write sqlite:///relative.db or sqlite:////abs/path.db")
        path = url[len("sqlite:///"):]
        return SqliteIndex(path, settings.index_name, create=create)
    if url.startswith(("http://", "https://")):
        from mediaindex.adapters.index.opensearch import OpenSearchIndex

        index = OpenSearchIndex.connect(url, settings)
        if not create:
            _must_exist(index, url)
        return index
    raise ConfigurationError(f"MEDIAINDEX_INDEX={url!r}: use sqlite:///PATH or an http(s):// OpenSearch URL")


def _must_exist(index: Any, url: str) -> None:
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


def build_analyzer(settings: Settings, rekognition_client: Any = None) -> Analyzer:
    if settings.analyzer == "rekognition":
        from mediaindex.adapters.analysis.rekognition import RekognitionAnalyzer

        return RekognitionAnalyzer(settings, client=rekognition_client)
    from mediaindex.adapters.analysis.local import LocalAnalyzer

    return LocalAnalyzer(settings)


def build_faces(settings: Settings, rekognition_client: Any = None) -> FaceCollection | None:
    if not settings.has("people"):
        return None
    if settings.analyzer == "rekognition":
        from mediaindex.adapters.faces.rekognition import RekognitionFaceCollection

        return RekognitionFaceCollection(settings, client=rekognition_client)
    try:
        from mediaindex.adapters.faces.local import LocalFaceCollection
    except ImportError:  # known people on the local analyzer arrive with their own adapter
        return None
    return LocalFaceCollection(settings, space=local_face_space(settings))


def local_face_space(settings: Settings) -> Any:
    """The vector space the local analyzer makes with these settings (its files are found, none is loaded)."""
    from mediaindex.adapters.analysis.local import LocalAnalyzer

    return LocalAnalyzer(settings).face_space


def analyzer_capabilities(settings: Settings) -> Any:
    """What the configured analyzer reports, for telling a search that asks for something it never does; None when
    that cannot be known here (the local models are not installed)."""
    from mediaindex.domain.capabilities import REKOGNITION

    if settings.analyzer == "rekognition":
        return REKOGNITION
    try:
        from mediaindex.adapters.analysis.local import LocalAnalyzer
    except ImportError:
        return None
    return LocalAnalyzer(settings).capabilities


def face_model(settings: Settings) -> str | None:
    """The face model documents analysed with these settings carry (None: Rekognition, or no faces analysed)."""
    if settings.analyzer == "rekognition" or not (settings.has("faces") or settings.has("people")):
        return None
    return local_face_space(settings).id


def build_people(settings: Settings, pipeline: Pipeline) -> Any:
    """The known-people use cases (enrol, forget, re-match, compare, search by face) on the pipeline's adapters."""
    from mediaindex.services.people import People

    return People(settings=settings, pipeline=pipeline)


def build_storage(uri: str | None = None) -> Storage:
    """S3 for `s3://...` (and for Lambda), a folder otherwise."""
    if uri is None or uri.startswith("s3://"):
        from mediaindex.adapters.storage.s3 import S3Storage

        return S3Storage()
    from mediaindex.adapters.storage.folder import FolderStorage

    return FolderStorage()


def build_pipeline(
    settings: Settings,
    storage: Storage | None = None,
    metrics: Metrics | None = None,
    index: Index | None = None,
    analyzer: Analyzer | None = None,
    faces: FaceCollection | None = None,
    rekognition_client: Any = None,
) -> Pipeline:
    index = index or build_index(settings)
    index.ensure_ready()
    analyzer = analyzer or build_analyzer(settings, rekognition_client)
    if faces is None:
        faces = build_faces(settings, rekognition_client)
    pipeline = Pipeline(
        storage=storage or build_storage(),
        analyzer=analyzer,
        index=index,
        faces=faces,
        metrics=metrics or NullMetrics(),
        max_pixels=settings.max_pixels,
    )
    try:
        from mediaindex.services.video import make_video_indexer
    except ImportError:  # video support is its own module; without it videos get a clear `failed` reason
        return pipeline
    from mediaindex.adapters.video_state.dynamodb import state_store_for

    pipeline.video = make_video_indexer(settings, pipeline, state_store=state_store_for(settings))
    return pipeline
