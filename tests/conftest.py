"""Fixtures shared by every test. The real test media live beside the checkout in ../shared/data; CI always has
them, so their absence is an error, never a skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mediaindex.adapters.index.opensearch import OpenSearchIndex
from mediaindex.adapters.index.sqlite import SqliteIndex

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()

# Nothing in the tests may reach a real AWS account.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "mediaindex-tests",
    "POWERTOOLS_METRICS_NAMESPACE": "MediaIndexTests",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ[_name] = _value


def pytest_sessionstart(session: pytest.Session) -> None:
    if not (SHARED_DATA / "faces").is_dir() or not (SHARED_DATA / "images").is_dir():
        raise pytest.UsageError(
            f"test media not found at {SHARED_DATA}: the tests need ../shared/data beside the checkout "
            "(or MEDIAINDEX_TEST_DATA pointing at it)"
        )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


@pytest.fixture(scope="session")
def faces_dir(shared_data: Path) -> Path:
    return shared_data / "faces"


@pytest.fixture(scope="session")
def images_dir(shared_data: Path) -> Path:
    return shared_data / "images"


@pytest.fixture(scope="session")
def video_path(shared_data: Path) -> Path:
    return shared_data / "video" / "short_hamilton_clip.mp4"


def opensearch_index(url: str, name: str = "media") -> OpenSearchIndex:
    """An OpenSearch index on a test server (osmem), with backoff short enough for tests."""
    from opensearchpy import OpenSearch

    index = OpenSearchIndex(OpenSearch(hosts=[url]), name, backoff_base=0.01)
    index.ensure_ready()
    return index


@pytest.fixture(params=["sqlite", "opensearch"])
def empty_index(request, tmp_path):
    """A fresh, empty index of each backend (a test using it runs once per backend): SQLite in a file, OpenSearch
    on osmem-server through opensearch-py."""
    if request.param == "sqlite":
        index = SqliteIndex(str(tmp_path / "index.db"))
        index.ensure_ready()
        yield index
        index.close()
    else:
        clone = request.getfixturevalue("osmem_clone")
        yield opensearch_index(clone.url)


@pytest.fixture(autouse=True)
def _keep_mediaindex_log_level():
    """`mediaindex index` run in-process quietens the package's loggers for the whole process (the test run):
    every test gets the level back, so a later test that reads the logs is not left deaf."""
    import logging

    logger = logging.getLogger("mediaindex")
    level = logger.level
    yield
    logger.setLevel(level)
