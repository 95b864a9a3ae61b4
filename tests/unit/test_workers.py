"""entrypoints/workers.py: the bulk use case wired to this machine's workers, and what it refuses."""

from __future__ import annotations

import pytest

from mediaindex.adapters.storage.routing import RoutingStorage
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError
from mediaindex.entrypoints.workers import SpawnedWorkers, WorkerSpec, bulk_indexer, default_workers
from mediaindex.services.bulk import BulkIndexer, IndexRoot
from tests.fakes import FakeIndex, FakeStorage


def test_there_is_always_a_worker_and_rekognition_gets_more_than_the_local_models():
    assert 1 <= default_workers("local") <= default_workers("rekognition")


def test_bulk_indexer_wires_folders_and_s3_a_lazy_handler_and_spawned_workers():
    runner = bulk_indexer(FakeIndex(), WorkerSpec(Settings()), workers=3)
    assert isinstance(runner.storage, RoutingStorage) and isinstance(runner.processes, SpawnedWorkers)
    assert runner.mode == "processes" and runner.handle is None  # nothing is built before a run


def test_worker_processes_cannot_be_asked_of_a_use_case_given_none(tmp_path):
    runner = BulkIndexer(index=FakeIndex(), storage=FakeStorage(""), make_handle=lambda: None, workers=2)
    with pytest.raises(ConfigurationError, match="no worker processes"):
        runner.run([IndexRoot("", str(tmp_path))])


def test_an_index_root_is_a_folder_or_a_bucket_and_prefix(tmp_path):
    assert IndexRoot.parse("s3://media/2019/") == IndexRoot("media", "2019/")
    assert IndexRoot.parse(str(tmp_path)).is_local
