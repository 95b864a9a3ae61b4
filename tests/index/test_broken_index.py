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


# ---- the index's own file is something else, its rows are damaged, its disk is full ----------------------------------
def test_a_named_pipe_at_the_index_is_refused_without_hanging(tmp_path, capsys):
    from tests.support.pipes import named_pipe

    path = tmp_path / "index.db"
    with named_pipe(path) as opened:
        for command in READERS[:2]:
            code, err = run(capsys, *command, "--index", f"sqlite:///{path}")
            assert code == 2 and "named pipe (FIFO), not a regular file" in err and "move it aside" in err
    assert not opened.is_set()


def _damage_rows(path, sql: str) -> None:
    conn = sqlite3.connect(str(path))
    conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("damage", [
    "UPDATE media_docs SET key = CAST(x'66ff6f2e6a7067' AS TEXT) WHERE rowid = 3",  # invalid UTF-8
    "UPDATE media_docs SET status = 'failed', error = CAST(x'c3' AS TEXT) WHERE rowid = 3",
    "UPDATE media_docs SET labels = x'0102030405' WHERE rowid = 3",  # a packed column that cannot be unpacked
    "UPDATE media_docs SET terms = x'ffffffffffffffffff' WHERE rowid = 5",
    "UPDATE media_bodies SET doc = '{not json' WHERE rowid = (SELECT min(rowid) FROM media_bodies)",
], ids=["utf8-key", "utf8-error", "labels", "terms", "body"])
def test_undecodable_rows_are_damage_never_a_traceback_or_a_query_error(real_index, capsys, damage):
    _damage_rows(real_index, damage)
    for command in (["search", ""], ["search", "dog"], ["stats"], ["search", "", "--json"]):
        code, err = run(capsys, *command, "--index", f"sqlite:///{real_index}")
        if code == 0:
            continue  # the damaged part is not what this command reads
        assert code == 2 and "query" not in err.split(":")[1], err
        assert f"the index {real_index} is damaged" in err and "rebuild" in err and len(err.splitlines()) == 1
    codes = [run(capsys, *c, "--index", f"sqlite:///{real_index}")[0] for c in (["search", ""], ["stats"])]
    assert 2 in codes  # the damage is seen by some reader


@pytest.mark.parametrize("error", ["database or disk is full", "disk I/O error"])
def test_a_full_disk_is_not_called_damage(real_index, capsys, monkeypatch, error):
    from mediaindex.adapters import own_files
    from mediaindex.adapters.index import sqlite as sqlite_adapter

    def full(self, conn):  # what SQLite answers a reader that cannot grow its shared-memory file
        raise sqlite3.OperationalError(error)

    monkeypatch.setattr(sqlite_adapter.SqliteIndex, "_use_wal", full)
    monkeypatch.setattr(own_files, "free_bytes", lambda path: 4096)
    for command in (["search", "dog"], ["stats"], ["people", "list"]):
        code, err = run(capsys, *command, "--index", f"sqlite:///{real_index}")
        assert code == 2 and "is full" in err and "free some space" in err, err
        assert "damaged" not in err and "move it aside" not in err


def test_a_write_onto_a_full_file_says_so_and_a_rolled_back_transaction_keeps_its_cause(real_index):
    from mediaindex.domain.errors import ConfigurationError
    from tests.index.corpus import corpus

    index = SqliteIndex(str(real_index))
    docs = corpus()
    with index._conn() as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # a disk with no room left for this file
    with pytest.raises(ConfigurationError, match="is full"):
        for n in range(2000):
            index.put({**docs[n % len(docs)], "id": f"more-{n}"}, None)
    with index._conn() as conn:
        conn.execute("PRAGMA max_page_count = 1073741823")
        # SQLite itself rolls the whole transaction back after some errors: the cause must survive our ROLLBACK
        conn.execute(f"""CREATE TEMP TRIGGER refuse BEFORE INSERT ON {index.t_docs}
            BEGIN SELECT RAISE(ROLLBACK, 'the real cause'); END""")
    with pytest.raises(sqlite3.Error, match="the real cause"):
        index.put({**docs[0], "id": "another"}, None)
    with index._conn() as conn:
        conn.execute("DROP TRIGGER refuse")
    index.put({**docs[0], "id": "another"}, None)  # the connection is usable again
    assert index.get("another") is not None


@pytest.mark.parametrize("place", ["disk full", "fifo"])
def test_faces_db_on_a_full_disk_or_a_pipe_is_one_clear_error(tmp_path, monkeypatch, place):
    from mediaindex.adapters.faces import local_store
    from mediaindex.adapters.faces.local import LocalFaceCollection
    from mediaindex.config import Settings
    from mediaindex.domain.errors import ConfigurationError
    from tests.support.pipes import named_pipe

    path = tmp_path / "faces.db"
    if place == "disk full":
        def full(db):  # the first write of a new file (its journal mode, its tables) finds no room
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(local_store, "_prepare", full)
        with pytest.raises(ConfigurationError, match="disk holding the face collection .* is full"):
            LocalFaceCollection(Settings(home=tmp_path), path=path).is_empty()
    else:
        with named_pipe(path) as opened:
            with pytest.raises(ConfigurationError, match="named pipe"):
                LocalFaceCollection(Settings(home=tmp_path), path=path).is_empty()
        assert not opened.is_set()
