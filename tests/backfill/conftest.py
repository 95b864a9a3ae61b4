from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from mediaindex import bootstrap
from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.entrypoints import aws_lambda
from tests.fakes import FakeAnalyzer

BUCKET = "archive-bucket"


@pytest.fixture
def aws():
    """moto S3 (one bucket) and SQS (the pipeline's queue); yields (s3, sqs, queue_url)."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="mediaindex-events")["QueueUrl"]
        yield s3, sqs, queue_url
    aws_lambda.configure(None)


@pytest.fixture
def index(empty_index):
    """A fresh index of each backend (tests/conftest.py)."""
    return empty_index


@pytest.fixture
def sqlite_index(tmp_path):
    idx = SqliteIndex(str(tmp_path / "index.db"))
    idx.ensure_ready()
    yield idx
    idx.close()


@pytest.fixture
def fake_models(monkeypatch, tmp_path):
    """The CLI builds its pipeline from settings; give it the fake analyzer instead of loading the local models."""
    analyzer = FakeAnalyzer()
    monkeypatch.setattr(bootstrap, "build_analyzer", lambda settings, client=None: analyzer)
    monkeypatch.setattr(bootstrap, "build_faces", lambda settings, client=None: None)
    monkeypatch.setenv("MEDIAINDEX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEDIAINDEX_QUEUE_URL", raising=False)
    monkeypatch.delenv("MEDIAINDEX_INDEX", raising=False)
    return analyzer
