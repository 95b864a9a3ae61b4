"""Watching a folder: created, modified, moved and deleted files (and folders) reach the index; files still being
written wait until they hold still. Every wait is bounded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.adapters.storage.folder import FolderStorage
from mediaindex.domain import document as docs
from mediaindex.domain.local_files import ignored
from mediaindex.domain.messages import CREATED
from mediaindex.services.indexing import Pipeline
from mediaindex.services.watching import FolderWatcher
from tests.fakes import FakeAnalyzer
from tests.local_mode.conftest import FAKE, MEDIAINDEX, ROOT

# Only a guard against a hang: every wait here is for an event (a line, an exit, a condition), which a busy
# machine delays but never makes false; stopping a watcher with its worker took over 20 s on a loaded CI machine.
TIMEOUT = 180


def wait_until(condition, timeout: float = TIMEOUT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def watched(tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    index = SqliteIndex(str(tmp_path / "index.db"))
    index.ensure_ready()
    analyzer = FakeAnalyzer()
    pipeline = Pipeline(storage=FolderStorage(), analyzer=analyzer, index=index)
    watcher = FolderWatcher(str(folder), pipeline.handle, index=index, debounce=0.3)
    watcher.start()
    yield folder, index, analyzer, watcher
    watcher.stop()
    index.close()


def status(index, path) -> str | None:
    found = index.get(docs.document_id("", str(path)))
    return found.doc["status"] if found else None


def test_create_modify_move_delete(watched, images_dir):
    folder, index, analyzer, watcher = watched
    photo = folder / "husky.jpg"
    shutil.copyfile(images_dir / "n02110185_Siberian_husky.JPEG", photo)
    wait_until(lambda: status(index, photo) == "indexed", what="the new file indexed")
    first = index.get(docs.document_id("", str(photo))).doc

    photo.write_bytes((images_dir / "n07747607_orange.JPEG").read_bytes())  # same name, other picture
    wait_until(lambda: index.get(docs.document_id("", str(photo))).doc["content_sha256"] != first["content_sha256"],
               what="the modified file indexed again")

    moved = folder / "sub"
    moved.mkdir()
    target = moved / "orange.jpg"
    calls = analyzer.calls
    photo.rename(target)
    wait_until(lambda: status(index, photo) == "deleted" and status(index, target) == "indexed", what="the move")
    assert analyzer.calls == calls  # the moved file's analysis was reused

    target.unlink()
    wait_until(lambda: status(index, target) == "deleted", what="the deletion")
    assert watcher.counts["indexed"] >= 2 and watcher.counts["removed"] >= 2


def test_a_deleted_or_moved_away_folder_removes_everything_under_it(watched, images_dir, tmp_path):
    folder, index, analyzer, watcher = watched
    album = folder / "album"
    album.mkdir()
    names = ["n02110185_Siberian_husky.JPEG", "n07747607_orange.JPEG", "n04399382_teddy.JPEG"]
    for name in names:
        shutil.copyfile(images_dir / name, album / name)
    wait_until(lambda: all(status(index, album / n) == "indexed" for n in names), what="the album indexed")
    shutil.move(str(album), str(tmp_path / "elsewhere"))  # out of the watched tree
    wait_until(lambda: all(status(index, album / n) == "deleted" for n in names), what="the album removed")


def test_a_file_still_being_written_is_indexed_once_complete(tmp_path, images_dir):
    folder = tmp_path / "w"
    folder.mkdir()
    index = SqliteIndex(str(tmp_path / "index.db"))
    pipeline = Pipeline(storage=FolderStorage(), analyzer=FakeAnalyzer(), index=index)
    now = [0.0]
    watcher = FolderWatcher(str(folder), pipeline.handle, index=index, debounce=1.0, clock=lambda: now[0])
    data = (images_dir / "n04399382_teddy.JPEG").read_bytes()
    path = folder / "teddy.jpg"
    path.write_bytes(data[:1000])
    watcher.schedule(CREATED, str(path))
    now[0] = 0.5
    assert watcher.process_due() == 0  # not quiet long enough
    with path.open("ab") as f:
        f.write(data[1000:5000])
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    now[0] = 1.1
    assert watcher.process_due() == 0  # quiet, but it grew meanwhile: wait another round
    path.write_bytes(data)
    now[0] = 2.2
    assert watcher.process_due() == 0
    now[0] = 3.3
    assert watcher.process_due() == 1
    doc = index.get(docs.document_id("", str(path))).doc
    assert doc["status"] == "indexed" and doc["size"] == len(data)


def test_hidden_and_clutter_files_are_ignored(tmp_path):
    root = str(tmp_path)
    assert ignored(f"{root}/.photo.jpg.swp", root)
    assert ignored(f"{root}/.git/objects/x", root)
    assert ignored(f"{root}/a/Thumbs.db", root)
    for sidecar in ("IMG_0001.AAE", "IMG_0001.xmp", "DSC_0001.THM", "photo.jpg.xmp"):
        assert ignored(f"{root}/a/{sidecar}", root)
    assert not ignored(f"{root}/a/photo.jpg", root)


def test_watch_command_syncs_first_then_follows_until_ctrl_c(tmp_path, images_dir, home):
    folder = tmp_path / "pics"
    folder.mkdir()
    shutil.copyfile(images_dir / "n04399382_teddy.JPEG", folder / "teddy.jpg")
    process = subprocess.Popen(
        [*MEDIAINDEX, "watch", str(folder), "--json", "--debounce", "0.2", "--workers", "1",
         "--app-factory", FAKE],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "functions")])}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        synced = json.loads(process.stdout.readline())
        assert synced["action"] == "synced" and synced["indexed"] == 1
        shutil.copyfile(images_dir / "n07747607_orange.JPEG", folder / "orange.jpg")
        line = json.loads(process.stdout.readline())
        assert (line["action"], line["key"]) == ("indexed", str(folder / "orange.jpg"))
        (folder / "teddy.jpg").unlink()
        line = json.loads(process.stdout.readline())
        assert (line["action"], line["key"]) == ("removed", str(folder / "teddy.jpg"))
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=TIMEOUT)
        assert json.loads(out.strip().splitlines()[-1])["action"] == "stopped"
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_the_listing_leaves_sidecars_out(tmp_path, images_dir):
    """An iPhone export puts IMG_0001.AAE beside IMG_0001.JPG: indexing lists the photo alone (a sidecar is not a
    failure that makes `index` exit 1)."""
    from mediaindex.adapters.storage.folder import FolderStorage

    shutil.copyfile(images_dir / "n04399382_teddy.JPEG", tmp_path / "IMG_0001.JPG")
    (tmp_path / "IMG_0001.AAE").write_text("<?xml version='1.0'?><plist><dict/></plist>")
    (tmp_path / "IMG_0001.JPG.xmp").write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    listed = [info.ref.key for info in FolderStorage().list("", str(tmp_path))]
    assert listed == [str(tmp_path / "IMG_0001.JPG")]
