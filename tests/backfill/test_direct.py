"""Direct mode: no queue, the same handler runs here over a pool of workers (moto S3, or a folder), resumable from
a low-water-mark checkpoint that never passes a file a slower worker has not finished; and the CLI around it."""

from __future__ import annotations

import json
import threading

import pytest

from mediaindex.adapters.s3_events import events_from_message_body
from mediaindex.adapters.storage.s3 import S3Storage
from mediaindex.entrypoints.cli import main
from mediaindex.adapters.checkpoint.file import StateFile, default_state_path
from mediaindex.adapters.listing.s3 import S3Source
from mediaindex.services.backfill import Backfill, DirectSink
from mediaindex.services.indexing import Pipeline
from tests.backfill.archive import archive_files, receive_all, upload, write_folder
from tests.backfill.conftest import BUCKET
from tests.fakes import FakeAnalyzer

BAD = {"bad/empty.jpg", "bad/truncated.jpg", "bad/not-an-image.jpg", "bad/notes.txt"}


def test_direct_mode_indexes_every_file_once_over_a_pool_of_workers(aws, index):
    s3, _, _ = aws
    files = archive_files(300 if "Sqlite" in type(index).__name__ else 100)
    upload(s3, BUCKET, files)
    analyzer = FakeAnalyzer()
    pipeline = Pipeline(storage=S3Storage(s3), analyzer=analyzer, index=index)
    sink = DirectSink(pipeline.handle, workers=4)
    try:
        summary = Backfill(S3Source(s3, BUCKET), index, sink).run()
    finally:
        sink.close()
    assert summary.done and summary.mode == "direct" and summary.sent == len(files)
    assert summary.outcomes == {"indexed": len(files) - len(BAD), "failed": len(BAD)}
    assert summary.api_calls == 2 * (len(files) - len(BAD))  # FakeAnalyzer reports two calls a picture
    assert analyzer.calls == len(files) - len(BAD)
    index.refresh()
    assert {d["key"] for d in index.iter_documents()} == set(files)


class Crash(Exception):
    pass


def test_a_crash_in_direct_mode_resumes_without_repeating_or_missing_a_file(aws, sqlite_index, tmp_path):
    s3, _, _ = aws
    files = archive_files(200)
    upload(s3, BUCKET, files)
    analyzer = FakeAnalyzer()
    pipeline = Pipeline(storage=S3Storage(s3), analyzer=analyzer, index=sqlite_index)
    state = StateFile(tmp_path / "state.json", f"s3://{BUCKET}/")
    crashed = threading.Event()
    calls = {"n": 0}
    lock = threading.Lock()

    def dying_handle(event):
        with lock:
            calls["n"] += 1
            if calls["n"] >= 90:
                crashed.set()
        if crashed.is_set():
            raise Crash("the process died before this file was done")
        return pipeline.handle(event)

    def stop_listing(listed, sent):
        if crashed.is_set():
            raise KeyboardInterrupt

    sink = DirectSink(dying_handle, workers=4)
    with pytest.raises(KeyboardInterrupt):
        Backfill(S3Source(s3, BUCKET, page_size=25), sqlite_index, sink, save=state.save, progress=stop_listing).run()
    sink.close()
    saved = state.load()
    assert saved["done"] is False
    done_before = {d["key"] for d in sqlite_index.iter_documents()}
    assert saved["checkpoint"] < min(set(files) - done_before)  # never past a file that was not done
    assert 0 < len(done_before) < len(files)

    sink = DirectSink(pipeline.handle, workers=4)
    try:
        summary = Backfill(S3Source(s3, BUCKET, page_size=25), sqlite_index, sink, save=state.save).run(
            start_after=saved["checkpoint"], carried=saved["totals"])
    finally:
        sink.close()
    assert summary.done and state.load()["done"] is True
    documents = list(sqlite_index.iter_documents())
    assert {d["key"] for d in documents} == set(files)  # nothing missed
    assert analyzer.calls == len(files) - len(BAD)  # nothing analysed twice
    assert all(sqlite_index.get(d["id"]).version == 1 for d in documents)  # nothing written twice


def cli_json(capsys, *argv) -> tuple[int, dict]:
    status = main(list(argv))
    return status, json.loads(capsys.readouterr().out)


def test_the_cli_backfills_a_folder_in_process_and_a_rerun_skips_everything(fake_models, tmp_path, capsys):
    files = archive_files(60)
    write_folder(tmp_path / "library", files)
    index_url = f"sqlite:///{tmp_path / 'index.db'}"
    status, first = cli_json(capsys, "backfill", str(tmp_path / "library"), "--json", "--no-progress",
                             "--index", index_url, "--workers", "3")
    assert status == 0 and first["mode"] == "direct" and first["done"] is True
    assert first["outcomes"] == {"indexed": len(files) - len(BAD), "failed": len(BAD)}
    assert first["rate"] is None  # local models in-process: no Rekognition quota to respect
    status, second = cli_json(capsys, "backfill", str(tmp_path / "library"), "--json", "--no-progress",
                              "--index", index_url)
    assert status == 0 and second["sent"] == 0 and second["skipped_unchanged"] == len(files)
    assert fake_models.calls == len(files) - len(BAD)


def test_the_cli_runs_direct_on_s3_when_no_queue_is_configured(aws, fake_models, tmp_path, capsys):
    s3, _, _ = aws
    files = archive_files(30)
    upload(s3, BUCKET, files)
    status, result = cli_json(capsys, "backfill", f"s3://{BUCKET}/photos/", "--json", "--no-progress",
                              "--index", f"sqlite:///{tmp_path / 'i.db'}")
    photos = [k for k in files if k.startswith("photos/")]
    assert status == 0 and result["mode"] == "direct" and result["outcomes"] == {"indexed": len(photos)}


def test_the_cli_enqueues_and_resumes_from_its_state_file(aws, fake_models, tmp_path, capsys, monkeypatch):
    s3, sqs, queue_url = aws
    files = archive_files(40)
    upload(s3, BUCKET, files)
    monkeypatch.setenv("MEDIAINDEX_QUEUE_URL", queue_url)
    index_url = f"sqlite:///{tmp_path / 'i.db'}"
    source = f"s3://{BUCKET}/"
    # an interrupted earlier run left its checkpoint here
    keys = sorted(files)
    state = StateFile(default_state_path(tmp_path / "home", source), source)
    state.save(keys[19], False, {"listed": 20, "sent": 20})
    status, result = cli_json(capsys, "backfill", f"s3://{BUCKET}", "--json", "--no-progress", "--index", index_url)
    assert status == 0 and result["mode"] == "queue" and result["done"] is True
    assert result["sent"] == 20 + (len(keys) - 20) and result["listed"] == len(keys)  # totals carried over
    sent = sorted(events_from_message_body(m["Body"])[0].ref.key for m in receive_all(sqs, queue_url))
    assert sent == keys[20:]
    assert fake_models.calls == 0  # queue mode analyses nothing here
    # a state file of another source is refused rather than silently reused
    other = tmp_path / "other.json"
    StateFile(other, "s3://elsewhere/").save("x", False, {})
    assert main(["backfill", f"s3://{BUCKET}", "--state", str(other), "--index", index_url, "--no-progress"]) == 2
    assert "belongs to 's3://elsewhere/'" in capsys.readouterr().err


def test_the_cli_refuses_a_source_that_is_neither_a_folder_nor_s3(fake_models, tmp_path, capsys):
    assert main(["backfill", str(tmp_path / "nope"), "--index", f"sqlite:///{tmp_path / 'i.db'}"]) == 2
    assert "not a folder and not an s3:// address" in capsys.readouterr().err
