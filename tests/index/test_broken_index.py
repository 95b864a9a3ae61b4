"""A broken index says so: one line naming the setting and what to do (exit status 2), never a traceback, and a
read-only command never creates an empty index at a mistyped path. Garbage, truncated and damaged index files,
a folder, a home that cannot be written, an invalid index name, a URL that is not OpenSearch, an alias that is
not there."""

from __future__ import annotations

import os
import sqlite3
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.entrypoints.cli import main
from tests.index.corpus import corpus

READERS = (["search", "dog"], ["stats"], ["show", "/nowhere.jpg"], ["serve", "--port", "0"])


@pytest.fixture(autouse=True)
def keep_log_level():
    """`mediaindex index` quietens the package's loggers for its process; here that process is the test run."""
    import logging

    logger = logging.getLogger("mediaindex")
    level = logger.level
    yield
    logger.setLevel(level)


def run(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip()


@pytest.fixture
def real_index(tmp_path):
    path = tmp_path / "index.db"
    index = SqliteIndex(str(path))
    index.ensure_ready()
    for doc in corpus()[:40]:
        index.put(doc, None)
    conn = sqlite3.connect(str(path))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, as after a clean exit
    conn.close()
    index.close()
    return path


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_reader_at_a_mistyped_path_says_no_index_and_creates_nothing(tmp_path, capsys, command):
    missing = tmp_path / "typo" / "index.db"
    code, err = run(capsys, *command, "--index", f"sqlite:///{missing}")
    assert code == 2 and err.startswith("mediaindex: configuration: no index at ") and "mediaindex index" in err
    assert not missing.exists() and not missing.parent.exists()
    code, err = run(capsys, *command, "--home", str(tmp_path / "empty-home"))
    assert code == 2 and "no index at" in err and not (tmp_path / "empty-home").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "zeroed pages", "short"])
def test_a_damaged_index_file_is_detected_with_a_way_to_rebuild(real_index, capsys, damage):
    data = real_index.read_bytes()
    if damage == "garbage":
        real_index.write_bytes(os.urandom(len(data)))
    elif damage == "truncated":
        real_index.write_bytes(data[: len(data) // 2])
    elif damage == "zeroed pages":
        real_index.write_bytes(data[:4096] + b"\x00" * (len(data) - 4096))
    else:
        real_index.write_bytes(data[:50])
    for command in READERS[:2]:
        code, err = run(capsys, *command, "--index", f"sqlite:///{real_index}")
        assert code == 2, err
        assert f"the index {real_index} is damaged" in err and "rebuild" in err and len(err.splitlines()) == 1
    code, err = run(capsys, "index", str(real_index.parent / "nothing-here"), "--index", f"sqlite:///{real_index}")
    assert code == 2


def test_a_folder_as_the_index_names_the_setting(tmp_path, capsys):
    code, err = run(capsys, "search", "dog", "--index", f"sqlite:///{tmp_path}")
    assert code == 2 and "MEDIAINDEX_INDEX" in err and "is a folder" in err and f"{tmp_path}/index.db" in err


def test_a_home_that_cannot_be_written(tmp_path, capsys):
    (tmp_path / "photo.jpg").write_bytes(b"not really")
    # a place no process can create folders in (chmod does not stop root, /proc does)
    code, err = run(capsys, "index", str(tmp_path / "photo.jpg"), "--home", "/proc/mediaindex-home",
                    "--app-factory", "tests.local_mode.factory:fake_app")
    assert code == 2 and "MEDIAINDEX_HOME" in err and "writable" in err


def test_an_invalid_index_name(real_index, capsys, monkeypatch):
    monkeypatch.setenv("MEDIAINDEX_INDEX_NAME", "My-Photos")
    code, err = run(capsys, "stats", "--index", f"sqlite:///{real_index}")
    assert code == 2 and err.startswith("mediaindex: configuration: MEDIAINDEX_INDEX_NAME") and "lower-case" in err


@pytest.fixture
def web_server(tmp_path):
    """A real HTTP server that is not OpenSearch (a folder of web pages)."""
    (tmp_path / "index.html").write_text("<html>hello</html>")

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(tmp_path), **k)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_url_that_is_not_opensearch_says_so_for_readers_and_writers(web_server, tmp_path, capsys):
    code, err = run(capsys, "search", "dog", "--index", web_server)
    assert code == 2 and "does not answer as OpenSearch" in err and web_server.removeprefix("http://") in err
    (tmp_path / "photo.jpg").write_bytes(b"x")
    code, err = run(capsys, "index", str(tmp_path / "photo.jpg"), "--index", web_server,
                    "--app-factory", "tests.local_mode.factory:fake_app")
    assert code == 2 and "does not answer as OpenSearch" in err


def test_a_reader_on_opensearch_without_the_index_says_no_index(osmem_server, capsys):
    clone = osmem_server.clone()
    try:
        code, err = run(capsys, "search", "dog", "--index", clone.url, "--index-name", "nothing_here")
        assert code == 2 and "no index 'nothing_here'" in err
        assert not _alias_exists(clone.url, "nothing_here")  # and none was created
    finally:
        clone.close()


def _alias_exists(url: str, name: str) -> bool:
    from opensearchpy import OpenSearch

    return bool(OpenSearch(hosts=[url]).indices.exists_alias(name=name))
