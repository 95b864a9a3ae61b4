"""Reconcile (services/reconcile.py) and --prune (BulkIndexer._prune) on the in-memory fakes: no S3, no SQLite, no
worker processes. Documents of vanished files get tombstones through the pipeline, which tombstone purging later
removes; missing and changed files are indexed again; what is in sync or outside the source is left alone."""

from __future__ import annotations

import hashlib

from mediaindex.domain import document as docs
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.ports import ObjectInfo, ObjectRef
from mediaindex.ports import Listed
from mediaindex.services.backfill import DirectSink
from mediaindex.services.bulk import BulkIndexer, IndexRoot
from mediaindex.services.indexing import Pipeline
from mediaindex.services.reconcile import CHANGED, MISSING, ORPHANED, Reconcile
from tests.fakes import FakeAnalyzer, FakeIndex, FakeStorage
from tests.unit.test_indexing import jpeg


class EtagStorage(FakeStorage):
    """FakeStorage whose listing gives the etags S3 would (its reads already do)."""

    def list(self, bucket, prefix=""):
        for info in super().list(bucket, prefix):
            yield ObjectInfo(info.ref, info.size, hashlib.md5(self.objects[info.ref.key]).hexdigest())


class StorageSource:
    """The storage's listing in pages, as the backfill sources give them."""

    def __init__(self, storage, page_size=2):
        self.storage, self.bucket, self.page_size = storage, storage.bucket, page_size

    def describe(self):
        return f"fake://{self.bucket}"

    def pages(self, position):
        items = [Listed(info, info.ref.key) for info in self.storage.list(self.bucket)]
        for start in range(0, len(items), self.page_size):
            yield items[start:start + self.page_size]


def indexed(files: dict[str, bytes]) -> Pipeline:
    storage = EtagStorage()
    pipeline = Pipeline(storage=storage, analyzer=FakeAnalyzer(), index=FakeIndex())
    for key, data in files.items():
        storage.write(key, data)
        assert pipeline.handle(StorageEvent(CREATED, ObjectRef("media", key))).action == "indexed"
    return pipeline


def statuses(index: FakeIndex) -> dict[str, str]:
    return {d["key"]: d["status"] for d in index.iter_documents(include_deleted=True)}


def reconcile(pipeline: Pipeline, dry_run: bool = False):
    feed = None if dry_run else DirectSink(pipeline.handle, workers=1)
    try:
        return Reconcile(pipeline.index, StorageSource(pipeline.storage), "", remove=None if dry_run else pipeline.handle,
                         feed=feed, workers=1).run(dry_run=dry_run)
    finally:
        if feed is not None:
            feed.close()


def test_reconcile_finds_missing_changed_and_orphaned_files_and_fixes_them():
    pipeline = indexed({"a.jpg": jpeg((1, 2, 3)), "b.jpg": jpeg((4, 5, 6)), "gone.jpg": jpeg((7, 8, 9))})
    storage, index = pipeline.storage, pipeline.index
    del storage.objects["gone.jpg"]
    storage.write("b.jpg", jpeg((40, 50, 60)))  # other bytes, no event
    storage.write("new.jpg", jpeg((10, 20, 30)))
    index.put({**docs.base_document("elsewhere", "x.jpg", None), "status": "indexed", "etag": "e", "size": 1}, None)
    before = statuses(index)

    dry = reconcile(pipeline, dry_run=True)
    assert (dry.counts[MISSING], dry.counts[CHANGED], dry.counts[ORPHANED], dry.in_sync) == (1, 1, 1, 1)
    assert {(a["action"], a["key"]) for a in dry.actions} == {("index", "new.jpg"), ("index", "b.jpg"),
                                                              ("remove", "gone.jpg")}
    assert statuses(index) == before  # a dry run changes nothing

    report = reconcile(pipeline)
    assert report.outcomes == {"indexed": 2, "removed": 1} and not report.errors
    assert statuses(index) == {"a.jpg": "indexed", "b.jpg": "indexed", "gone.jpg": "deleted", "new.jpg": "indexed",
                               "x.jpg": "indexed"}
    new_b = storage.read(ObjectRef("media", "b.jpg")).etag
    assert index.live()["b.jpg"]["etag"] == new_b
    again = reconcile(pipeline, dry_run=True)  # now in sync
    assert (again.in_sync, sum(again.counts.values())) == (3, 0)


def test_reconcile_leaves_a_file_that_is_back_by_the_time_it_is_removed():
    pipeline = indexed({"a.jpg": jpeg()})
    index = pipeline.index
    index.put({**docs.base_document("media", "ghost.jpg", None), "status": "indexed", "etag": "e", "size": 3}, None)

    def back_just_in_time(event):  # the file reappears between the listing and the removal
        pipeline.storage.write("ghost.jpg", jpeg((9, 9, 9)))
        return pipeline.handle(event)

    report = Reconcile(index, StorageSource(pipeline.storage), "", remove=back_just_in_time,
                       feed=DirectSink(pipeline.handle, workers=1), workers=1).run()
    assert report.counts[ORPHANED] == 1 and report.outcomes["stale"] == 1
    assert index.live()["ghost.jpg"]["status"] == "indexed"


def prune_run(pipeline: Pipeline, source: IndexRoot, **options):
    return BulkIndexer(index=pipeline.index, storage=pipeline.storage, make_handle=lambda: pipeline.handle,
                       prune=True, **options).run([source])


def test_prune_tombstones_the_documents_of_vanished_files_under_the_source_only():
    pipeline = indexed({"p/a.jpg": jpeg((1, 1, 1)), "p/b.jpg": jpeg((2, 2, 2)), "q/c.jpg": jpeg((3, 3, 3))})
    index = pipeline.index
    del pipeline.storage.objects["p/b.jpg"]
    del pipeline.storage.objects["q/c.jpg"]  # vanished too, but outside the source: not this run's business
    summary = prune_run(pipeline, IndexRoot("media", "p/"))
    assert summary.complete and summary.removed == 1 and summary.unchanged == 1
    assert statuses(index) == {"p/a.jpg": "indexed", "p/b.jpg": "deleted", "q/c.jpg": "indexed"}
    assert prune_run(pipeline, IndexRoot("media", "p/")).removed == 0  # a tombstone is not pruned twice


def test_pruned_tombstones_are_purged_once_old_enough():
    pipeline = indexed({"a.jpg": jpeg((1, 1, 1)), "b.jpg": jpeg((2, 2, 2))})
    index = pipeline.index
    del pipeline.storage.objects["b.jpg"]
    assert prune_run(pipeline, IndexRoot("media", "")).removed == 1
    tombstone = next(d for d in index.iter_documents(include_deleted=True) if d["status"] == "deleted")
    assert index.purge_tombstones(tombstone["indexed_at"]) == 0  # written at that instant: not before it
    assert index.purge_tombstones("9999") == 1
    assert statuses(index) == {"a.jpg": "indexed"}
    assert index.purge_tombstones("9999") == 0  # live documents are never purged
