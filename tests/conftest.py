"""Fixtures shared by every test. The real test media live beside the checkout in ../shared/data; CI always has
them, so their absence is an error, never a skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
