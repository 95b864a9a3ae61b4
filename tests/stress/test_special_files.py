"""Only regular files are read: a FIFO (which blocks an open for ever), a link to /dev/zero (which never ends and
claims 0 bytes), a socket and a link to a folder in the middle of real photos. `index`, `analyze`, `reconcile` and
`people add` finish, give each a `failed` document or a reason, and a rerun counts them unchanged; every read is
capped at the limit whatever st_size says."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from mediaindex.adapters.storage.folder import FolderStorage, read_regular_file, ref_for
from mediaindex.domain.errors import MediaTooLarge, ObjectNotFound, UnsupportedMedia

ROOT = Path(__file__).resolve().parents[2]
FAKE = "tests.local_mode.factory:fake_app"
MEDIAINDEX = [sys.executable, "-c", "import sys; from mediaindex.entrypoints.cli import main; sys.exit(main())"]


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (the bug this guards against is a hang)."""
    def stop(*_):
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def hostile(tmp_path, images_dir):
    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copyfile(next(p for p in sorted(images_dir.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg")), folder / "photo.jpg")
    os.mkfifo(folder / "pipe.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    (folder / "linked.jpg").symlink_to(folder / "photo.jpg")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock.jpg"))
    yield folder
    sock.close()


def cli(*args, home, timeout=120):
    env = {**os.environ, "MEDIAINDEX_HOME": str(home), "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "functions")])}
    env.pop("MEDIAINDEX_INDEX", None)
    return subprocess.run([*MEDIAINDEX, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_index_and_reconcile_finish_and_say_why_each_special_file_was_not_read(hostile, tmp_path):
    home = tmp_path / "home"
    run = cli("index", str(hostile), "--workers", "1", "--json", "--app-factory", FAKE, home=home)
    summary = json.loads(run.stdout)
    reasons = {Path(f["key"]).name: f["reason"] for f in summary["failures"]}
    assert summary["indexed"] + summary["reused"] == 2, run.stderr  # the photo and the link to it
    assert "named pipe" in reasons["pipe.jpg"] and "character device" in reasons["zero.jpg"]
    assert "socket" in reasons["sock.jpg"] and summary["errors"] == 0
    assert all(r.startswith("unsupported:") for r in reasons.values())
    again = json.loads(cli("index", str(hostile), "--workers", "1", "--json", "--app-factory", FAKE, home=home).stdout)
    assert again["unchanged"] == 5 and again["failed"] == 0
    reconciled = cli("reconcile", str(hostile), "--json", home=home)
    assert reconciled.returncode in (0, 1), reconciled.stderr
    json.loads(reconciled.stdout)


def test_analyze_refuses_a_fifo_and_a_device_with_the_reason(hostile, tmp_path):
    run = cli("analyze", str(hostile / "pipe.jpg"), str(hostile / "zero.jpg"), "--json", "--analyzer", "rekognition",
              home=tmp_path / "home", timeout=60)
    assert run.returncode == 1
    errors = [r["error"] for r in json.loads(run.stdout)]
    assert [e["code"] for e in errors] == ["unsupported", "unsupported"]
    assert "named pipe" in errors[0]["message"] and "character device" in errors[1]["message"]


def test_reads_are_capped_whatever_the_size_says(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(MediaTooLarge):
        read_regular_file(big, 4999)
    assert read_regular_file(big, 5000)[0] == b"x" * 5000
    with deadline(10):
        with pytest.raises(UnsupportedMedia, match="character device"):
            read_regular_file("/dev/zero", 1 << 30)
        os.mkfifo(tmp_path / "fifo")
        with pytest.raises(UnsupportedMedia, match="named pipe"):
            FolderStorage().read(ref_for(tmp_path / "fifo"))
    with pytest.raises(ObjectNotFound):
        read_regular_file(tmp_path / "missing", 10)
    (tmp_path / "dir").mkdir()
    with pytest.raises(ObjectNotFound):
        read_regular_file(tmp_path / "dir", 10)


def test_the_pipeline_gives_a_refused_file_a_failed_document_once(tmp_path):
    from mediaindex.adapters.index.sqlite import SqliteIndex
    from mediaindex.domain import document as docs
    from mediaindex.domain.messages import CREATED, StorageEvent
    from mediaindex.services.indexing import UNCHANGED, Pipeline
    from tests.fakes import FakeAnalyzer

    os.mkfifo(tmp_path / "pipe.png")
    index = SqliteIndex(str(tmp_path / "index.db"), "media")
    index.ensure_ready()
    pipeline = Pipeline(storage=FolderStorage(), analyzer=FakeAnalyzer(), index=index)
    info = FolderStorage().stat(ref_for(tmp_path / "pipe.png"))
    event = StorageEvent(CREATED, info.ref, etag=info.etag, size=info.size)
    with deadline(10):
        outcome = pipeline.handle(event)
    assert outcome.action == "failed" and "named pipe" in outcome.reason
    doc = index.get(docs.document_id("", str(tmp_path / "pipe.png"))).doc
    assert doc["status"] == "failed" and doc["error"] == outcome.reason
    assert pipeline.handle(event).action == UNCHANGED


def test_people_add_refuses_a_fifo_and_goes_on_to_the_next_photo(tmp_path, capsys):
    from mediaindex.entrypoints.cli import main

    os.mkfifo(tmp_path / "pipe.jpg")
    with deadline(20):
        code = main(["people", "add", "Ada", str(tmp_path / "pipe.jpg"), str(tmp_path / "missing.jpg"),
                     "--home", str(tmp_path / "home"), "--json"])
    assert code == 1
    results = json.loads(capsys.readouterr().out)["results"]
    assert "named pipe" in results[0]["error"] and "no such file" in results[1]["error"]


def test_no_file_is_read_past_the_video_limit_in_a_bulk_run(tmp_path):
    from mediaindex.config import Settings
    from mediaindex.entrypoints.workers import WorkerSpec, index_paths

    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "big.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 5000)
    settings = Settings(home=tmp_path / "home", max_video_bytes=4096)
    summary = index_paths([str(folder)], settings, spec=WorkerSpec(settings, factory="tests.local_mode.factory:fake_app"),
                          workers=1).to_dict()
    [failure] = summary["failures"]
    assert failure["reason"].startswith("too_large:") and "MEDIAINDEX_MAX_VIDEO_BYTES" in failure["reason"]



def test_a_link_to_a_file_that_is_not_media_records_nothing_of_it_and_links_to_photos_are_indexed(hostile, tmp_path):
    """A link planted in an indexed folder to /etc/passwd (or to any file that is not a picture or a video) is not
    followed: its failed document says so and holds nothing of the target (no size, SHA-256, time, or content in the
    error); a link to a photo outside the folder is indexed, as in a folder of links to photos kept elsewhere."""
    import hashlib

    from mediaindex.bootstrap import build_app
    from mediaindex.config import Settings
    from mediaindex.domain import document as docs

    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:the size and hash of this must not leak\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copyfile(hostile / "photo.jpg", elsewhere / "kept.jpg")
    os.utime(elsewhere / "kept.jpg", ns=(0, 10**18))  # a time the link's document may carry: its target is media
    (hostile / "photo.jpg").unlink()  # the only picture is now outside the folder, reached by links
    (hostile / "outside.jpg").symlink_to(elsewhere / "kept.jpg")
    (hostile / "linked.jpg").unlink()
    (hostile / "passwd.jpg").symlink_to(secret)
    (hostile / "etc.jpg").symlink_to("/etc/passwd")
    home = tmp_path / "home"
    run = cli("index", str(hostile), "--workers", "1", "--json", "--app-factory", FAKE, home=home)
    summary = json.loads(run.stdout)
    assert summary["indexed"] == 1 and summary["errors"] == 0, run.stderr  # outside.jpg, through its link
    reasons = {Path(f["key"]).name: f["reason"] for f in summary["failures"]}
    for name in ("passwd.jpg", "etc.jpg"):
        assert reasons[name].startswith("link_skipped: a symbolic link to a file that is not a picture or a video")
    index = build_app(Settings(home=home), read_only=True).index
    secrets = {hashlib.sha256(secret.read_bytes()).hexdigest(), hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()}
    for name, target in (("passwd.jpg", secret), ("etc.jpg", Path("/etc/passwd"))):
        doc = index.get(docs.document_id("", str(hostile / name))).doc
        assert doc["status"] == "failed" and doc["size"] == 0 and doc["content_sha256"] is None
        assert doc["last_modified"] is None and doc["etag"].startswith("link-")
        assert f"{target.stat().st_mtime_ns:x}" not in doc["etag"] and str(target) not in json.dumps(doc)
    every = json.dumps([d for d in index.iter_documents()])
    assert not any(sha in every for sha in secrets) and "must not leak" not in every
    assert index.get(docs.document_id("", str(hostile / "outside.jpg"))).doc["status"] == "indexed"
    again = json.loads(cli("index", str(hostile), "--workers", "1", "--json", "--app-factory", FAKE, home=home).stdout)
    assert again["unchanged"] == 6 and again["failed"] == again["indexed"] == 0  # not read again: the links held
    # the target turns into a picture: the link is followed from then on
    shutil.copyfile(elsewhere / "kept.jpg", secret)
    third = json.loads(cli("index", str(hostile), "--workers", "1", "--json", "--app-factory", FAKE, home=home).stdout)
    assert third["indexed"] + third["reused"] == 1 and third["unchanged"] == 5, third


def test_a_link_is_not_followed_when_read_either(tmp_path):
    """The read decides as the listing does (the target may change between them; the watcher reads without a
    listing): nothing past the first bytes of a target that is not media is read, not even its size is told."""
    from mediaindex.domain.errors import LinkNotFollowed

    (tmp_path / "big.txt").write_bytes(b"not a picture\n" * 1000)
    (tmp_path / "link.jpg").symlink_to(tmp_path / "big.txt")
    with pytest.raises(LinkNotFollowed) as refused:
        FolderStorage(max_object_bytes=100).read(ref_for(tmp_path / "link.jpg"))  # not too_large: it says nothing
    assert "14000" not in str(refused.value) and "14,000" not in str(refused.value)
    info = FolderStorage().stat(ref_for(tmp_path / "link.jpg"))
    assert info.size == 0 and info.etag == refused.value.etag and info.last_modified is None
    with FolderStorage().read(ref_for(tmp_path / "big.txt")) as obj:  # the file itself is read as any file
        assert obj.size == 14000
