"""Reconcile both ways, on moto S3 (SQLite and OpenSearch on osmem) and on a folder through the CLI: documents of
deleted files get tombstones through the pipeline's remove use case, missing or changed files are indexed, and
--dry-run changes nothing."""

from __future__ import annotations

import json
import os

from mediaindex.adapters.storage.s3 import S3Storage
from mediaindex.domain import document as docs
from mediaindex.entrypoints.cli import main
from mediaindex.adapters.listing.s3 import S3Source
from mediaindex.adapters.queue.sqs import QueueSink
from mediaindex.services.backfill import Backfill, DirectSink
from mediaindex.services.indexing import Pipeline
from mediaindex.services.reconcile import Reconcile
from tests.backfill.archive import archive_files, picture, receive_all, upload, write_folder
from tests.backfill.conftest import BUCKET
from tests.backfill.test_queue import run_handler
from tests.fakes import FakeAnalyzer


def index_directly(s3, index, analyzer) -> Pipeline:
    pipeline = Pipeline(storage=S3Storage(s3), analyzer=analyzer, index=index)
    sink = DirectSink(pipeline.handle, workers=4)
    try:
        assert Backfill(S3Source(s3, BUCKET), index, sink).run().done
    finally:
        sink.close()
    return pipeline


def snapshot(index) -> dict[str, tuple]:
    index.refresh()
    return {d["id"]: (d.get("status"), d.get("etag"), d.get("indexed_at")) for d in index.iter_documents(True)}


def test_reconcile_on_s3_removes_orphans_and_indexes_missing_and_changed_files(aws, index):
    s3, sqs, queue_url = aws
    files = archive_files(80)
    upload(s3, BUCKET, files)
    analyzer = FakeAnalyzer()
    pipeline = index_directly(s3, index, analyzer)
    # a document of another bucket is none of this reconcile's business
    index.put({**docs.base_document("other-bucket", "photos/x.jpg", None), "status": "indexed", "etag": "e"}, None)

    keys = sorted(k for k in files if k.startswith("photos/"))
    deleted, changed = keys[:7], keys[7:10]
    added = ["photos/new/added 1.jpg", "photos/new/добавлено+2.jpg", "photos/new/3%.png", "new/4.jpg", "new/5.jpg"]
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in deleted]})
    for i, key in enumerate(changed + added):
        s3.put_object(Bucket=BUCKET, Key=key, Body=picture(70_000 + i))

    before = snapshot(index)
    dry = Reconcile(index, S3Source(s3, BUCKET), "", remove=None, feed=None).run(dry_run=True)
    assert (dry.counts["missing"], dry.counts["changed"], dry.counts["orphaned"]) == (5, 3, 7)
    assert {a["key"] for a in dry.actions if a["action"] == "remove"} == set(deleted)
    assert {a["key"] for a in dry.actions if a["reason"] == "changed"} == set(changed)
    assert {a["key"] for a in dry.actions if a["reason"] == "missing"} == set(added)
    assert snapshot(index) == before and receive_all(sqs, queue_url) == []  # a dry run changes nothing

    report = Reconcile(index, S3Source(s3, BUCKET), "", remove=pipeline.handle, feed=QueueSink(sqs, queue_url)).run()
    assert report.outcomes == {"removed": 7} and report.sent == 8 and not report.errors
    messages = run_handler(sqs, queue_url, pipeline)  # the deployed handler indexes what reconcile enqueued
    assert len(messages) == 8

    index.refresh()
    live = {d["key"]: d for d in index.iter_documents() if d["bucket"] == BUCKET}
    listed = {o["Key"]: o["ETag"].strip('"') for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert set(live) == set(listed)
    assert all(live[k]["etag"] == listed[k] for k in listed)  # changed files carry their new ETag
    for key in deleted:
        assert index.get(docs.document_id(BUCKET, key)).doc["status"] == docs.DELETED  # tombstones
    assert index.get(docs.document_id("other-bucket", "photos/x.jpg")).doc["status"] == "indexed"

    again = Reconcile(index, S3Source(s3, BUCKET), "", remove=pipeline.handle, feed=QueueSink(sqs, queue_url)).run()
    assert again.actions == [] and again.in_sync == len(listed)


class HidingSource(S3Source):
    """A listing that missed one key (it was deleted while listing, then uploaded again)."""

    def __init__(self, client, bucket, hidden):
        super().__init__(client, bucket)
        self.hidden = hidden

    def pages(self, position):
        for page in super().pages(position):
            yield [item for item in page if item.info.ref.key != self.hidden]


def test_a_file_that_is_back_by_the_time_it_would_be_removed_keeps_its_document(aws, sqlite_index):
    s3, _, _ = aws
    upload(s3, BUCKET, {"a.jpg": picture(1), "b.jpg": picture(2)})
    pipeline = index_directly(s3, sqlite_index, FakeAnalyzer())
    report = Reconcile(sqlite_index, HidingSource(s3, BUCKET, "b.jpg"), "", remove=pipeline.handle,
                       feed=DirectSink(pipeline.handle)).run()
    assert report.counts["orphaned"] == 1 and report.outcomes == {"stale": 1}  # the pipeline's ordering rule
    assert sqlite_index.get(docs.document_id(BUCKET, "b.jpg")).doc["status"] == "indexed"


def test_reconcile_a_folder_through_the_cli(fake_models, tmp_path, capsys):
    library = tmp_path / "library"
    files = archive_files(40)
    write_folder(library, files)
    # a sibling folder whose name starts the same must not be taken for part of the library
    write_folder(tmp_path / "library-old", {"x.jpg": picture(9)})
    index_url = f"sqlite:///{tmp_path / 'index.db'}"
    assert main(["backfill", str(tmp_path / "library-old"), "--index", index_url, "--no-progress", "--json"]) == 0
    assert main(["backfill", str(library), "--index", index_url, "--no-progress", "--json"]) == 0
    capsys.readouterr()

    keys = sorted(files)
    for key in keys[:4]:
        os.remove(library / key)
    (library / keys[5]).write_bytes(picture(80_000) + b"\x00" * 17)  # other size: another fingerprint
    write_folder(library, {"new/one.jpg": picture(80_001), "new/two words.png": picture(80_002)})

    assert main(["reconcile", str(library), "--dry-run", "--json", "--index", index_url, "--no-progress"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert (dry["missing"], dry["changed"], dry["orphaned"]) == (2, 1, 4) and dry["mode"] == "dry-run"
    assert {a["key"] for a in dry["actions"] if a["action"] == "remove"} == {str(library / k) for k in keys[:4]}

    assert main(["reconcile", str(library), "--dry-run", "--index", index_url, "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert f"would remove orphaned {library / keys[0]}" in text and "missing 2" in text

    assert main(["reconcile", str(library), "--json", "--index", index_url, "--no-progress"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["outcomes"] == {"removed": 4, "indexed": 3} and done["mode"] == "direct"

    from mediaindex.adapters.index.sqlite import SqliteIndex

    index = SqliteIndex(str(tmp_path / "index.db"))
    live = {d["key"] for d in index.iter_documents()}
    on_disk = {str(p) for p in library.rglob("*") if p.is_file()}
    assert live == on_disk | {str(tmp_path / "library-old" / "x.jpg")}

    assert main(["reconcile", str(library), "--json", "--index", index_url, "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["actions"] == []
