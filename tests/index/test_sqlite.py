"""What only the SQLite index must show: several processes writing one file at once, a killed writer losing
nothing committed and corrupting nothing, a busy file turning into a TransientError, and ":memory:"."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.domain.errors import TransientError, VersionConflict
from mediaindex.domain.query import Query
from mediaindex.domain.query_syntax import parse_query
from tests.index.corpus import corpus

ROOT = Path(__file__).resolve().parents[2]

# A worker process: index `count` random documents (ids distinct per worker), then increment a shared counter
# document `bumps` times with compare-and-set, re-reading on conflict like the indexing use case does.
WORKER = r"""
import random, sys
from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.domain.errors import VersionConflict
from tests.index.corpus import random_doc
path, worker, count, bumps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
index = SqliteIndex(path)
rng = random.Random(worker)
for n in range(count):
    index.put(random_doc(rng, worker * 100_000 + n, statuses=False), None)
for _ in range(bumps):
    while True:
        current = index.get("counter")
        try:
            if current is None:
                index.put({"id": "counter", "key": "counter", "status": "indexed", "bumps": 1}, None)
            else:
                index.put({**current.doc, "bumps": current.doc["bumps"] + 1}, current.version)
            break
        except VersionConflict:
            continue
print("done", flush=True)
"""

# A writer that never stops: prints how many documents it committed after each one.
KILLED_WRITER = r"""
import random, sys
from mediaindex.adapters.index.sqlite import SqliteIndex
from tests.index.corpus import random_doc
index = SqliteIndex(sys.argv[1])
rng = random.Random(7)
n = 0
while True:
    doc = random_doc(rng, n, statuses=False)
    current = index.get(doc["id"])
    index.put(doc, current.version if current else None)
    n += 1
    print(n, flush=True)
"""


def run_python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "functions")])}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, **kwargs)


def test_several_processes_index_into_one_file(tmp_path):
    path = str(tmp_path / "shared.db")
    SqliteIndex(path).ensure_ready()
    workers = [run_python(WORKER, path, str(w), "60", "25") for w in range(4)]
    for p in workers:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == "done"
    index = SqliteIndex(path)
    assert index.get("counter").doc["bumps"] == 4 * 25  # no increment lost to a race
    assert index.count(Query(statuses=("indexed",))) == 4 * 60 + 1
    assert len(list(index.iter_documents())) == 4 * 60 + 1
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_writer_killed_mid_write_loses_nothing_committed(tmp_path):
    path = str(tmp_path / "killed.db")
    SqliteIndex(path).ensure_ready()
    writer = run_python(KILLED_WRITER, path)
    committed = 0
    assert writer.stdout is not None
    for line in writer.stdout:
        committed = int(line)
        if committed >= 300:
            break
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    index = SqliteIndex(path)
    documents = list(index.iter_documents())
    assert len(documents) >= committed  # every acknowledged write survived (one more may have committed unprinted)
    # the side tables were written in the same transactions: searches agree with the stored documents
    for label in ("dog", "cat", "outdoors"):
        expected = sum(1 for d in documents if label in d.get("label_names", []))
        assert index.count(parse_query(f"label:{label}")) == expected
    smiling = sum(1 for d in documents if any(f.get("smile") for f in d.get("faces", [])))
    assert index.count(parse_query("smile:true")) == smiling
    fts = sqlite3.connect(path).execute("INSERT INTO media_fts(media_fts) VALUES ('integrity-check')")
    assert fts is not None  # raises if the full-text index disagrees with itself


def test_a_file_locked_too_long_is_a_transient_error(tmp_path):
    path = str(tmp_path / "locked.db")
    SqliteIndex(path).ensure_ready()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        index = SqliteIndex(path, busy_timeout=0.2)
        with pytest.raises(TransientError, match="busy"):
            index.put(corpus()[0], None)
    finally:
        blocker.execute("ROLLBACK")
    index.put(corpus()[0], None)  # and it works once the lock is gone
    assert index.get(corpus()[0]["id"]) is not None


def test_memory_index_is_shared_by_threads():
    index = SqliteIndex(":memory:")
    docs = corpus()
    threads = [threading.Thread(target=index.put, args=(doc, None)) for doc in docs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert index.count(parse_query("status:any")) == 11
    assert index.count(parse_query("dog")) == 2


def test_writers_wait_for_each_other_instead_of_failing(tmp_path):
    """Threads of one process, each with its own connection, all writing: busy_timeout queues them."""
    index = SqliteIndex(str(tmp_path / "threads.db"))
    errors: list[BaseException] = []
    docs = corpus()

    def write(worker: int) -> None:
        try:
            for doc in docs:
                index.put({**doc, "id": f"{worker}-{doc['id']}"}, None)
        except BaseException as e:  # noqa: BLE001 - asserted below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and time.monotonic() - started < 60
    assert index.count(parse_query("status:any")) == 8 * 11


def test_index_names_become_table_prefixes(tmp_path):
    path = str(tmp_path / "two.db")
    photos, videos = SqliteIndex(path, "photos"), SqliteIndex(path, "videos")
    photos.put(corpus()[0], None)
    assert photos.count(Query()) == 1 and videos.count(Query()) == 0
    with pytest.raises(ValueError, match="index name"):
        SqliteIndex(path, "drop table; --")


def test_stored_documents_round_trip_exactly(tmp_path):
    index = SqliteIndex(str(tmp_path / "rt.db"))
    doc = {**corpus()[0], "key": "päth/with \"quotes\" and \U0001f600.jpg", "moderation": 0.125}
    index.put(doc, None)
    assert index.get(doc["id"]).doc == json.loads(json.dumps(doc))
    with pytest.raises(VersionConflict):
        index.put(doc, 99)


def test_kept_facet_counts_follow_every_kind_of_write(tmp_path):
    """Facets of the whole index come from counts kept on each write; after creations, replacements, tombstones,
    status changes, field updates, deletions and purges they must equal counting the matches afresh."""
    import random

    from mediaindex.domain.expressions import FACETS, Not, TextHas
    from tests.index.corpus import random_doc

    index = SqliteIndex(str(tmp_path / "counts.db"))
    rng = random.Random(5)
    docs = [random_doc(rng, n) for n in range(150)]
    index.put_many(docs[:100])
    for doc in docs[100:]:
        index.put(doc, None)
    for doc in rng.sample(docs, 60):  # replace with another random document under the same id
        current = index.get(doc["id"])
        index.put({**random_doc(rng, rng.randint(0, 10**6)), "id": doc["id"]}, current.version)
    for doc in rng.sample(docs, 20):
        current = index.get(doc["id"])
        index.update_fields(doc["id"], {"people": ["Grace Hopper"], "status": rng.choice(["indexed", "failed"])}, current.version)
    for doc in rng.sample(docs, 10):
        index.delete_document(doc["id"])
    assert index.purge_tombstones("2024-07-01") > 0
    afresh = Not(TextHas("zzzneverthere"))  # not a status-only query: counted from the matches
    for statuses in (("indexed",), ("indexed", "failed"), ("failed",)):
        kept = index.search(Query(facets=FACETS, statuses=statuses, facet_size=100)).facets
        counted = index.search(Query(where=afresh, facets=FACETS, statuses=statuses, facet_size=100)).facets
        assert kept == counted, statuses
        assert kept["people"]
