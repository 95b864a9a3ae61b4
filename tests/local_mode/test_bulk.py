"""The bulk runner in this process with the fake analyzer: what is skipped, what fails and why, prune, Ctrl-C,
and the three ways of running workers (inline, threads, processes)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.adapters.storage.folder import FolderStorage
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.entrypoints.cli.query_flags import query_from_flags
from mediaindex.entrypoints.workers import WorkerSpec, bulk_indexer
from mediaindex.services.bulk import IndexRoot, is_unchanged
from mediaindex.services.indexing import Pipeline
from tests.fakes import FakeAnalyzer
from tests.local_mode.conftest import FAKE


class CountingStorage(FolderStorage):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def read(self, ref):
        self.reads.append(ref.key)
        return super().read(ref)


@pytest.fixture
def index(tmp_path):
    idx = SqliteIndex(str(tmp_path / "index.db"))
    idx.ensure_ready()
    yield idx
    idx.close()


@pytest.fixture
def rig(index):
    """An inline runner on a fake-analyzer pipeline, with a storage that counts reads."""
    storage = CountingStorage()
    analyzer = FakeAnalyzer()
    pipeline = Pipeline(storage=storage, analyzer=analyzer, index=index)

    def make(**options):
        return bulk_indexer(index=index, spec=WorkerSpec(Settings()), storage=storage, handle=pipeline.handle,
                           analyzer_name="fake", **options)

    return make, storage, analyzer


def live_docs(index):
    return [d for d in index.iter_documents() if d["status"] != "deleted"]


def test_indexes_a_folder_then_skips_every_unchanged_file_without_reading_it(rig, photos, index):
    make, storage, analyzer = rig
    first = make().run([IndexRoot.parse(str(photos))]).to_dict()
    assert (first["listed"], first["indexed"], first["unchanged"], first["failed"]) == (40, 40, 0, 0)
    assert first["complete"] and not first["interrupted"]
    assert analyzer.calls == 40 and len(storage.reads) == 40
    keys = sorted(d["key"] for d in live_docs(index))
    assert keys == sorted(str(p) for p in photos.iterdir())

    second = make().run([IndexRoot.parse(str(photos))]).to_dict()
    assert (second["listed"], second["indexed"], second["unchanged"]) == (40, 0, 40)
    assert len(storage.reads) == 40 and analyzer.calls == 40  # not one file read again


def test_a_modified_file_is_indexed_again_and_a_copy_reuses_the_analysis(rig, photos, index):
    make, storage, analyzer = rig
    make().run([IndexRoot.parse(str(photos))])
    husky = photos / "n02110185_Siberian_husky.JPEG"
    data = husky.read_bytes()
    husky.write_bytes(data + b"\0")  # new bytes and a new size
    shutil.copyfile(photos / "n07747607_orange.JPEG", photos / "orange copy.jpg")
    r = make().run([IndexRoot.parse(str(photos))]).to_dict()
    assert (r["indexed"], r["reused"], r["unchanged"]) == (1, 1, 39)
    assert analyzer.calls == 41


def test_failed_files_are_listed_with_their_reasons_and_not_retried_until_asked(rig, photos, index):
    make, storage, analyzer = rig
    (photos / "notes.txt").write_text("not a picture")
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "cut.jpg").write_bytes((photos / "n07747607_orange.JPEG").read_bytes()[:300])
    r = make().run([IndexRoot.parse(str(photos))]).to_dict()
    assert r["failed"] == 3 and r["indexed"] == 40
    reasons = {os.path.basename(f["key"]): f["reason"] for f in r["failures"]}
    assert set(reasons) == {"notes.txt", "empty.jpg", "cut.jpg"}
    assert all(reason and ":" in reason for reason in reasons.values())  # "code: message"
    assert reasons["empty.jpg"].startswith("empty_file")
    failed = index.search(query_from_flags("status:failed", limit=10))
    assert failed.total == 3 and {d["error"] for d in failed.hits} == set(reasons.values())

    again = make().run([IndexRoot.parse(str(photos))]).to_dict()
    assert (again["failed"], again["unchanged"]) == (0, 43)
    retried = make(retry_failed=True).run([IndexRoot.parse(str(photos))]).to_dict()
    assert (retried["failed"], retried["unchanged"]) == (3, 40)


def test_prune_removes_documents_of_vanished_files_only_under_the_given_folder(rig, photos, tmp_path, index):
    make, storage, analyzer = rig
    other = tmp_path / "other"
    other.mkdir()
    shutil.copyfile(photos / "n07747607_orange.JPEG", other / "orange.jpg")
    make().run([IndexRoot.parse(str(photos)), IndexRoot.parse(str(other))])
    (photos / "n07747607_orange.JPEG").unlink()
    (other / "orange.jpg").unlink()

    kept = make().run([IndexRoot.parse(str(photos))]).to_dict()
    assert kept["removed"] == 0 and len(live_docs(index)) == 41  # without --prune nothing is forgotten

    pruned = make(prune=True).run([IndexRoot.parse(str(photos))]).to_dict()
    assert pruned["removed"] == 1
    keys = {d["key"] for d in live_docs(index)}
    assert str(photos / "n07747607_orange.JPEG") not in keys
    assert str(other / "orange.jpg") in keys  # not under the pruned folder
    stale = index.get(docs.document_id("", str(photos / "n07747607_orange.JPEG")))
    assert stale.doc["status"] == "deleted"


def test_ctrl_c_stops_cleanly_keeps_what_is_done_and_never_prunes(rig, photos, index):
    make, storage, analyzer = rig
    runner = make(prune=True)
    inner = runner.handle
    seen = []

    def interrupting(event):
        if len(seen) == 10:
            raise KeyboardInterrupt
        seen.append(event)
        return inner(event)

    runner.handle = interrupting
    (photos / "gone.jpg").write_bytes((photos / "n07747607_orange.JPEG").read_bytes())
    make().run([IndexRoot.parse(str(photos / "gone.jpg"))])
    (photos / "gone.jpg").unlink()  # vanished: a complete run with prune would tombstone it
    r = runner.run([IndexRoot.parse(str(photos))]).to_dict()
    assert r["interrupted"] and not r["complete"]
    assert r["indexed"] + r["reused"] == 10 and r["removed"] == 0
    assert index.get(docs.document_id("", str(photos / "gone.jpg"))).doc["status"] == "indexed"
    done = len(live_docs(index)) - 1
    assert done == 10
    resumed = make().run([IndexRoot.parse(str(photos))]).to_dict()
    assert resumed["unchanged"] == done and resumed["indexed"] + resumed["reused"] == 40 - done
    assert len(live_docs(index)) == 41  # and gone.jpg, until a complete run prunes it
    assert make(prune=True).run([IndexRoot.parse(str(photos))]).to_dict()["removed"] == 1
    assert len(live_docs(index)) == 40


def test_threads_index_each_file_once(index, photos):
    storage = CountingStorage()
    analyzer = FakeAnalyzer()
    pipeline = Pipeline(storage=storage, analyzer=analyzer, index=index)
    runner = bulk_indexer(index=index, spec=WorkerSpec(Settings()), storage=storage, handle=pipeline.handle,
                         workers=4, threads=True)
    r = runner.run([IndexRoot.parse(str(photos))]).to_dict()
    assert r["mode"] == "threads" and r["indexed"] == 40
    assert sorted(storage.reads) == sorted(str(p) for p in photos.iterdir())


def test_worker_processes_build_their_own_pipeline(tmp_path, photos, monkeypatch):
    monkeypatch.delenv("FAKE_ANALYZER_DELAY", raising=False)
    settings = Settings(home=tmp_path / "home")
    idx = SqliteIndex(str(tmp_path / "home" / "index.db"))
    runner = bulk_indexer(index=idx, spec=WorkerSpec(settings, factory=FAKE), workers=2)
    started = time.monotonic()
    r = runner.run([IndexRoot.parse(str(photos))]).to_dict()
    assert r["mode"] == "processes" and r["workers"] == 2
    assert r["indexed"] == 40, r
    assert {d["analyzer"] for d in live_docs(idx)} == {"fake"}
    assert time.monotonic() - started < 120


def test_every_worker_loads_at_once(tmp_path, photos, monkeypatch):
    # each worker's pipeline is built only once both are building theirs: one started after the other had loaded
    # (as when the pool was pinged once) would stop the run with "only 1 of 2 workers were started together"
    monkeypatch.delenv("FAKE_ANALYZER_DELAY", raising=False)
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    monkeypatch.setenv("WORKERS_RENDEZVOUS", str(rendezvous))
    monkeypatch.setenv("WORKERS_EXPECTED", "2")
    settings = Settings(home=tmp_path / "home")
    idx = SqliteIndex(str(tmp_path / "home" / "index.db"))
    spec = WorkerSpec(settings, factory="tests.local_mode.factory:rendezvous_app")
    r = bulk_indexer(index=idx, spec=spec, workers=2).run([IndexRoot.parse(str(photos))]).to_dict()
    assert (r["mode"], r["workers"], r["indexed"]) == ("processes", 2, 40), r
    assert len(list(rendezvous.iterdir())) == 2


class NoProcesses:
    """Worker processes that must not be started: a run too small for them is analysed in this process."""

    task = None

    def start(self, workers, report=None):
        raise AssertionError(f"{workers} worker process(es) started for a small run")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("files, workers, expected", [(1, 2, 1), (5, 2, 1), (6, 4, 2), (0, 2, 1)])
def test_a_few_files_get_the_workers_they_pay_for(tmp_path, photos, files, workers, expected):
    """One worker more costs a Python start, the imports and the models' loading: a run gets another only for
    each MIN_FILES_PER_WORKER files it analyses, and a run worth one worker is analysed in this process."""
    from mediaindex.services.bulk import MIN_FILES_PER_WORKER, BulkIndexer

    folder = tmp_path / "few"
    folder.mkdir()
    for path in sorted(photos.iterdir())[:files]:
        shutil.copyfile(path, folder / path.name)
    idx = SqliteIndex(str(tmp_path / "few.db"))
    idx.ensure_ready()
    started: list[int] = []

    class CountingProcesses(NoProcesses):
        def start(self, count, report=None):
            started.append(count)
            return super().start(count, report)

    pipeline = Pipeline(storage=FolderStorage(), analyzer=FakeAnalyzer(), index=idx)
    runner = BulkIndexer(index=idx, storage=FolderStorage(), make_handle=lambda: pipeline.handle,
                         processes=CountingProcesses(), workers=workers)
    assert expected == max(1, min(workers, files // MIN_FILES_PER_WORKER))
    if expected == 1:
        r = runner.run([IndexRoot.parse(str(folder))]).to_dict()
        assert (r["mode"], r["workers"], r["indexed"]) == ("inline", 1, files) and started == []
    else:
        with pytest.raises(AssertionError, match="started for a small run"):
            runner.run([IndexRoot.parse(str(folder))])
        assert started == [expected]
    idx.close()


def test_a_rerun_with_nothing_changed_starts_no_worker_process(tmp_path, photos):
    settings = Settings(home=tmp_path / "home")
    idx = SqliteIndex(str(tmp_path / "home" / "index.db"))
    first = bulk_indexer(index=idx, spec=WorkerSpec(settings, factory=FAKE), workers=2)
    assert first.run([IndexRoot.parse(str(photos))]).to_dict()["mode"] == "processes"
    again = bulk_indexer(index=idx, spec=WorkerSpec(settings, factory=FAKE), workers=2)
    again.processes = NoProcesses()
    r = again.run([IndexRoot.parse(str(photos))]).to_dict()
    assert (r["mode"], r["unchanged"], r["indexed"]) == ("inline", 40, 0)


def test_unchanged_rule_matches_the_pipelines():
    from mediaindex.ports import ObjectInfo, ObjectRef

    info = ObjectInfo(ObjectRef("", "/a.jpg"), 10, etag="e1")
    doc = {"status": "indexed", "etag": "e1", "size": 10, "analyzer": "local"}
    assert is_unchanged(info, doc, "local")
    assert not is_unchanged(info, doc, "rekognition")  # another analyzer: analyse again
    assert not is_unchanged(info, {**doc, "size": 11}, "local")
    assert not is_unchanged(info, {**doc, "status": "deleted"}, "local")
    assert is_unchanged(info, {**doc, "status": "failed", "analyzer": None}, "local")
    assert not is_unchanged(ObjectInfo(info.ref, 10, etag=None), doc, "local")


def test_sources(tmp_path):
    assert IndexRoot.parse("s3://bucket/some/prefix") == IndexRoot("bucket", "some/prefix")
    assert IndexRoot.parse(f"{tmp_path}/x/..") == IndexRoot("", str(tmp_path))
    folder = IndexRoot("", "/data/pics")
    assert folder.covers({"bucket": "", "key": "/data/pics/a/b.jpg"})
    assert not folder.covers({"bucket": "", "key": "/data/pictures/b.jpg"})
    assert not folder.covers({"bucket": "b", "key": "/data/pics/b.jpg"})
    with pytest.raises(Exception, match="no such file"):
        IndexRoot.parse(str(tmp_path / "missing"))
    with pytest.raises(Exception, match="names no bucket"):
        IndexRoot.parse("s3://")


def test_a_file_that_kills_its_worker_is_marked_failed_and_the_rest_indexed(tmp_path, photos, monkeypatch):
    monkeypatch.delenv("FAKE_ANALYZER_DELAY", raising=False)
    shutil.copyfile(photos / "n07747607_orange.JPEG", photos / "n05_crash.jpg")
    settings = Settings(home=tmp_path / "home")
    idx = SqliteIndex(str(tmp_path / "home" / "index.db"))
    spec = WorkerSpec(settings, factory="tests.local_mode.factory:crashing_app")
    r = bulk_indexer(index=idx, spec=spec, workers=2).run([IndexRoot.parse(str(photos))]).to_dict()
    assert (r["indexed"] + r["reused"], r["failed"], r["errors"]) == (40, 1, 0), r
    assert r["failures"][0]["key"] == str(photos / "n05_crash.jpg")
    assert r["failures"][0]["reason"].startswith("crashed:")
    assert idx.get(docs.document_id("", str(photos / "n05_crash.jpg"))).doc["status"] == "failed"
    again = bulk_indexer(index=idx, spec=spec, workers=2).run([IndexRoot.parse(str(photos))]).to_dict()
    assert again["unchanged"] == 41  # the crashing file is not tried again until it changes


def test_workers_that_cannot_start_stop_the_run_with_the_reason(tmp_path, photos):
    spec = WorkerSpec(Settings(home=tmp_path), factory="tests.local_mode.factory:broken_app")
    idx = SqliteIndex(str(tmp_path / "index.db"))
    with pytest.raises(Exception, match="could not start: RuntimeError: no models here"):
        bulk_indexer(index=idx, spec=spec, workers=2).run([IndexRoot.parse(str(photos))])
    assert list(idx.iter_documents()) == []


def test_index_paths_is_the_command_as_a_function(tmp_path, photos, monkeypatch):
    from mediaindex.entrypoints.workers import index_paths

    monkeypatch.delenv("FAKE_ANALYZER_DELAY", raising=False)
    settings = Settings(home=tmp_path / "home")
    summary = index_paths([str(photos)], settings, spec=WorkerSpec(settings, factory=FAKE))
    assert (summary.mode, summary.outcomes["indexed"]) == ("inline", 40)
    idx = SqliteIndex(str(tmp_path / "home" / "index.db"))
    assert idx.search(query_from_flags("thing")).total == 40


def test_force_analyses_every_file_again(tmp_path, photos, monkeypatch):
    from mediaindex import bootstrap

    analyzer = FakeAnalyzer()
    monkeypatch.setattr(bootstrap, "build_analyzer", lambda settings, client=None: analyzer)
    monkeypatch.setattr(bootstrap, "build_faces", lambda settings, client=None: None)
    settings = Settings(home=tmp_path / "home")
    idx = SqliteIndex(str(tmp_path / "home" / "index.db"))
    first = bulk_indexer(index=idx, spec=WorkerSpec(settings)).run([IndexRoot.parse(str(photos))]).to_dict()
    assert first["indexed"] == 40 and analyzer.calls == 40
    forced = bulk_indexer(index=idx, spec=WorkerSpec(settings, reuse_analysis=False), force=True)
    summary = forced.run([IndexRoot.parse(str(photos))]).to_dict()
    assert (summary["indexed"], summary["reused"], summary["unchanged"]) == (40, 0, 0)
    assert analyzer.calls == 80  # not one analysis copied from the documents it replaces
