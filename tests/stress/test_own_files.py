"""The files mediaindex writes for itself are opened as regular files only: a named pipe (or a device, a folder) in
the place of a thumbnail cache entry or the workers' log never hangs a command; it is a cache rendered again, or a
log that goes to the terminal instead."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mediaindex.adapters.media.thumbnail_cache import ThumbnailCache
from mediaindex.adapters.own_files import NotRegularFile, open_regular, read_regular
from tests.support.pipes import named_pipe

DOC = {"id": "doc-1", "content_sha256": "ab" * 32}


def test_open_regular_refuses_pipes_devices_and_folders_without_opening_them(tmp_path):
    with named_pipe(tmp_path / "pipe") as opened:
        for mode in ("rb", "ab"):
            with pytest.raises(NotRegularFile, match="named pipe"):
                open_regular(tmp_path / "pipe", mode)
    assert not opened.is_set()
    with pytest.raises(NotRegularFile, match="character device"):
        read_regular("/dev/zero", 10)
    with pytest.raises(NotRegularFile, match="folder"):
        open_regular(tmp_path)
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "missing")
    with open_regular(tmp_path / "log", "ab") as f:  # appending creates a missing file
        f.write(b"one\n")
    assert read_regular(tmp_path / "log", 4) == b"one\n"
    with pytest.raises(ValueError, match="more than 3 bytes"):
        read_regular(tmp_path / "log", 3)


@pytest.mark.parametrize("place", ["fifo", "folder", "huge"])
def test_a_thumbnail_cache_entry_that_is_not_one_is_rendered_again(tmp_path, place):
    cache = ThumbnailCache(tmp_path)
    entry = cache.path(DOC, "thumb")
    entry.parent.mkdir(parents=True)
    if place == "fifo":
        with named_pipe(entry) as opened:
            assert cache.get(DOC, "thumb") is None
        assert not opened.is_set()
        entry.unlink()
    elif place == "folder":
        entry.mkdir()
        assert cache.get(DOC, "thumb") is None
        cache.put(DOC, "thumb", b"jpeg")  # cannot replace a folder: a warning, no part file left
        assert not list(entry.parent.glob("*.part"))
        entry.rmdir()
    else:
        with open(entry, "wb") as f:
            f.truncate(1 << 30)  # sparse: a gigabyte it would read whole
        assert cache.get(DOC, "thumb") is None
    cache.put(DOC, "thumb", b"jpeg")
    assert cache.get(DOC, "thumb") == b"jpeg"


def test_a_named_pipe_at_the_workers_log_does_not_hang_indexing(tmp_path, images_dir):
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in sorted(os.listdir(images_dir))[:2]:
        (photos / name).write_bytes((images_dir / name).read_bytes())
    os.mkfifo(home / "logs" / "index-workers.log")  # a worker opening it to write would wait for a reader for ever
    done = subprocess.run(
        [sys.executable, "-m", "mediaindex", "index", str(photos), "--home", str(home), "--workers", "2",
         "--app-factory", "tests.local_mode.factory:fake_app"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=300)  # only a guard against the hang this test is about; a run takes a few seconds
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("indexed 2, ")
