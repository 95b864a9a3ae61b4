"""The embedded index's query side kept in step with its file (sqlite_sync.py): a reader that takes other instances'
and other processes' writes from the change log answers exactly as an instance that builds afresh, on every path
(changes applied, log pruned, too many changes, sort fields re-sorted, file replaced); a layout-3 or layout-4 file is
upgraded in place and answers as a new file of the same documents."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mediaindex.adapters.index import common, sqlite_schema, sqlite_sync
from mediaindex.adapters.index.bitmap_engine import FACET_KINDS, document_terms
from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.domain import document as docs
from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.expressions import FACE_BOOLEANS, FACETS
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.query_syntax import parse_query
from tests.index.corpus import BUCKET, PEOPLE_POOL, corpus, random_doc, tombstone_with_dog
from tests.index.reference import search_ids

ROOT = Path(__file__).resolve().parents[2]
# "status:failed OR label:dog>=70": no status filter hides a changed document's old label rows
WHERES = [
    "", "dog", "label:animal>=80", "label:outdoors>=70 OR cat", "status:failed OR label:dog>=70",
    'person:"Barack Obama"', 'person:"grace hopper" OR person:"ada lovelace"', "emotion:happy>=60", "emotion:calm",
    "smile:true", "beard:false sunglasses:true", "gender:female", "age:20..40", "age:60..", "text:happy",
    '"birthday party"', "path:holidays/", "path:people/ NOT dog", "taken:2015..2020", "indexed:2024-03..2024-09",
    "NOT emotion:happy", "-(dog OR cat) type:image", "status:any", "type:video OR smile:false",
]
SORTS = [Sort("relevance"), Sort("taken_at", True), Sort("taken_at", False), Sort("key", False), Sort("key", True),
         Sort("indexed_at", False)]
QUERIES = [Query(where=parse_query(text), sort=sort, offset=(i + j) % 3 * 7, limit=15, facets=FACETS, facet_size=50,
                 statuses=("indexed", "failed") if i % 4 == 0 else ("indexed",))
           for i, text in enumerate(WHERES) for j, sort in enumerate(SORTS)]

# Another process's reader: answers the queries each time it reads a line, with its query side's counters.
READER = r"""
import json, sys
from mediaindex.adapters.index.sqlite import SqliteIndex
from tests.index.test_query_side import answers
reader = SqliteIndex(sys.argv[1])
for line in sys.stdin:
    side = reader.query_side
    print(json.dumps({"answers": answers(reader), "builds": side.builds, "applied": side.applied}), flush=True)
"""


def answers(index: SqliteIndex) -> list:
    """Total, hit ids in order and facets (in order) of every query, as JSON-able lists."""
    return [[r.total, [h["id"] for h in r.hits], {name: [list(vc) for vc in counts.items()] for name, counts in
                                                   r.facets.items()}] for r in map(index.search, QUERIES)]


def fresh_answers(path: str, name: str = "media") -> list:
    """The answers of a new instance (it builds from the file), checked against the plain-Python semantics."""
    fresh = SqliteIndex(path, name)
    fresh.query_side.snapshot_path = None  # built from the file, never loaded from a saved copy
    try:
        found = answers(fresh)
        assert (fresh.query_side.builds, fresh.query_side.applied) == (1, 0)
        documents = list(fresh.iter_documents(include_deleted=True))
    finally:
        fresh.close()
    for query, (total, ids, _) in zip(QUERIES[::len(SORTS)], found[::len(SORTS)]):  # sets: one sort is enough
        expected = search_ids(query, documents)
        assert total == len(expected) and set(ids) <= expected, query
    return found


def some_date(rng: random.Random) -> str:
    return f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00.000Z"


class Writes:
    """Random writes of every kind through one instance, on documents it created."""

    def __init__(self, writer: SqliteIndex, seed: int) -> None:
        self.writer, self.rng, self.ids, self.n = writer, random.Random(seed), [], 0

    def new_doc(self) -> dict:
        self.n += 1
        return random_doc(self.rng, self.n)

    def load(self, count: int) -> None:
        batch = [self.new_doc() for _ in range(count)]
        self.writer.put_many(batch)
        self.ids += [d["id"] for d in batch]

    def pick(self):
        """A random id still held, and its document."""
        while (current := self.writer.get(doc_id := self.rng.choice(self.ids))) is None:
            pass
        return doc_id, current

    def create(self) -> None:
        doc = self.new_doc()
        self.writer.put(doc, None)
        self.ids.append(doc["id"])

    def round(self) -> None:
        w, rng = self.writer, self.rng
        for n in range(13):
            if n == 12:  # the newest rowid goes: the next creation reuses it for another document
                w.delete_document(self.ids[-1])
            self.create()
        for doc_id, current in (self.pick() for _ in range(10)):  # replacement: same id, other content
            w.put({**self.new_doc(), "id": doc_id}, current.version)
        for doc_id, current in (self.pick() for _ in range(6)):
            tomb = {**docs.tombstone(BUCKET, current.doc["key"], None), "id": doc_id, "indexed_at": some_date(rng)}
            w.put(tomb, current.version)
        for doc_id, current in (self.pick() for _ in range(6)):
            w.update_fields(doc_id, {"status": rng.choice(["indexed", "failed"])}, current.version)
        for doc_id, current in (self.pick() for _ in range(8)):  # people, labels, sort fields, the key's words
            fields = rng.choice([
                {"people": rng.sample(PEOPLE_POOL, rng.randint(0, 2))}, {"labels": [], "label_names": []},
                {"taken_at": rng.choice([None, f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-11T10:00:00"])},
                {"key": f"people/renamed happy {self.n}_{rng.randint(0, 99)}.jpg", "indexed_at": some_date(rng)},
            ])
            w.update_fields(doc_id, fields, current.version)
        for _ in range(5):
            w.delete_document(self.pick()[0])
        w.purge_tombstones(f"2024-{rng.randint(2, 12):02d}-01")
        # unconditional batch writes, some over existing ids (and the bounded log is pruned after them)
        w.put_many([{**self.new_doc(), "id": self.pick()[0]} for _ in range(5)] + [self.new_doc() for _ in range(5)])


@pytest.fixture
def pair(tmp_path):
    """A writer and a reader instance on one file of 250 documents; the reader has built its query side."""
    path = str(tmp_path / "index.db")
    writer, reader = SqliteIndex(path), SqliteIndex(path)
    writes = Writes(writer, seed=17)
    writes.load(250)
    reader.search(Query())
    assert reader.query_side.builds == 1
    yield path, writes, reader
    writer.close()
    reader.close()


def test_a_reader_applies_every_kind_of_write_and_answers_as_a_fresh_build(tmp_path):
    path = str(tmp_path / "index.db")
    writer, reader = SqliteIndex(path), SqliteIndex(path)
    reader.search(Query())  # built on the empty file: every document arrives through the log
    writes = Writes(writer, seed=3)
    writes.load(250)
    applied = 0
    for _ in range(5):
        assert answers(reader) == fresh_answers(path)
        side = reader.query_side
        assert side.builds == 1 and side.applied > applied
        # the sort fields answered from their changed slots, not from a re-sort
        assert all(len(column.stale) > 0 for column in side.columns.sorted.values())
        applied = side.applied
        writes.round()


def test_a_reader_started_from_a_snapshot_applies_every_kind_of_write_and_answers_as_a_fresh_build(tmp_path,
                                                                                                    monkeypatch):
    """The query side loaded from the saved copy, each part read at its first use (by a query or by a change
    applied to it), then kept in step with the log: as a build at every step, and saved again from that state."""
    monkeypatch.setattr(sqlite_sync, "SNAPSHOT_MIN", 100)
    monkeypatch.setattr(sqlite_sync, "SNAPSHOT_EVERY", 150)
    path = str(tmp_path / "index.db")
    writes = Writes(SqliteIndex(path), seed=5)
    writes.load(300)
    SqliteIndex(path).search(Query())  # builds and saves
    writes.round()
    reader = SqliteIndex(path)
    side = reader.query_side
    for n in range(5):
        assert answers(reader) == fresh_answers(path)
        assert (side.loads, side.builds) == (1, 0) and side.applied > 0
        if n == 0:
            loaded_at = side.saved_seq
        writes.round()
    assert side.saved_seq > loaded_at  # saved again, from a query side partly read from the file
    again = SqliteIndex(path)
    assert answers(again) == fresh_answers(path) and again.query_side.loads == 1
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_a_reader_in_another_process_applies_the_writes(pair):
    path, writes, _ = pair
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "functions")])}
    child = subprocess.Popen([sys.executable, "-c", READER, path], env=env, cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    try:
        applied = -1
        for _ in range(3):
            child.stdin.write("go\n")
            child.stdin.flush()
            seen = json.loads(child.stdout.readline())
            assert seen["answers"] == json.loads(json.dumps(fresh_answers(path)))
            assert seen["builds"] == 1 and seen["applied"] > applied
            applied = seen["applied"]
            writes.round()
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    assert child.returncode == 0


def test_a_reader_behind_a_pruned_log_builds_afresh(pair, monkeypatch):
    path, writes, reader = pair
    monkeypatch.setattr(sqlite_sync, "KEEP_CHANGES", 5)
    writes.round()  # ends with put_many, which prunes
    conn = sqlite3.connect(path)
    kept, oldest = conn.execute("SELECT count(*), min(seq) FROM media_changes").fetchone()
    assert kept == 5 and oldest > reader.query_side.seq + 1
    assert answers(reader) == fresh_answers(path)
    assert reader.query_side.builds == 2
    applied = reader.query_side.applied
    for _ in range(3):  # within the kept entries again: applied, not built
        writes.create()
    assert answers(reader) == fresh_answers(path)
    assert reader.query_side.builds == 2 and reader.query_side.applied == applied + 3


@pytest.mark.parametrize("share,rebuilds", [(sqlite_sync.REBUILD_SHARE, True), (10.0, False)])
def test_too_many_changes_build_afresh(pair, monkeypatch, share, rebuilds):
    path, writes, reader = pair
    monkeypatch.setattr(sqlite_sync, "REBUILD_SHARE", share)
    writes.load(1100)  # over max(1000, share of 250): built again, unless the share allows more than this
    assert answers(reader) == fresh_answers(path)
    assert reader.query_side.builds == (2 if rebuilds else 1)


def test_sort_fields_changed_beyond_the_slack_are_sorted_again(pair, monkeypatch):
    path, writes, reader = pair
    monkeypatch.setattr(sqlite_sync, "SORT_SLACK", 0)  # allowance: 1% of the index, ~3 changed slots
    sorted_again = []
    original = sqlite_sync.QuerySide._sorted
    monkeypatch.setattr(sqlite_sync.QuerySide, "_sorted",
                        lambda self, conn, field: sorted_again.append(field) or original(self, conn, field))
    for _ in range(2):
        writes.round()
        assert answers(reader) == fresh_answers(path)
        assert set(sorted_again) >= {"key", "taken_at", "indexed_at"}
        assert all(len(column.stale) == 0 for column in reader.query_side.columns.sorted.values())
        sorted_again.clear()
    assert reader.query_side.builds == 1


def test_a_file_replaced_by_another_index_is_built_afresh(pair, tmp_path):
    path, writes, reader = pair
    before = answers(reader)
    other_path = str(tmp_path / "other.db")
    other = Writes(SqliteIndex(other_path), seed=99)
    other.load(400)  # a longer log than the reader's file: only the generation tells the files apart
    other.round()
    other.writer.close()
    with sqlite3.connect(other_path) as source, sqlite3.connect(path) as target:
        source.backup(target)  # the file's content replaced under the open instances, as a restore does
    assert answers(reader) == fresh_answers(path) != before
    assert reader.query_side.builds == 2
    writes.create()  # and the writer's next write is applied to the new build
    assert answers(reader) == fresh_answers(path)
    assert reader.query_side.builds == 2


# ---- layout 3 ------------------------------------------------------------------------------------------------------
LAYOUT_3 = [
    """CREATE TABLE {n}_docs (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL,
    status TEXT, media_type TEXT, bucket TEXT, key TEXT, content_sha256 TEXT, analyzer TEXT,
    taken_at TEXT, indexed_at TEXT, error TEXT, facets TEXT)""",
    *(f"CREATE INDEX {{n}}_docs_{c.replace(', ', '_')} ON {{n}}_docs ({c})"
      for c in ("status, indexed_at, id", "status, taken_at, id", "status, key, id", "key", "content_sha256")),
    "CREATE TABLE {n}_bodies (rowid INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE {n}_labels (doc INTEGER NOT NULL, name TEXT NOT NULL, confidence REAL)",
    "CREATE INDEX {n}_labels_name ON {n}_labels (name, confidence, doc)",
    """CREATE TABLE {n}_terms (kind TEXT NOT NULL, value TEXT NOT NULL, doc INTEGER NOT NULL,
    PRIMARY KEY (kind, value, doc)) WITHOUT ROWID""",
    f"""CREATE TABLE {{n}}_faces (doc INTEGER NOT NULL, {', '.join(f'{b} INTEGER' for b in FACE_BOOLEANS)},
    gender TEXT, age_low REAL, age_high REAL, emotion TEXT, emotion_confidence REAL)""",
    "CREATE VIRTUAL TABLE {n}_fts USING fts5(text, key_text, tokenize = 'ascii')",
    """CREATE TABLE {n}_counts (status TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (status, kind, value)) WITHOUT ROWID""",
    "CREATE TABLE {n}_meta (name TEXT PRIMARY KEY, value TEXT)",
    "INSERT INTO {n}_meta VALUES ('schema_version', '3')",
]


def write_layout_3(path: str, name: str, documents: list[dict]) -> None:
    """A file as the layout-3 code wrote it: rows, packed facets, bodies, words, and the side tables' terms."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    for statement in LAYOUT_3:
        conn.execute(statement.format(n=name))
    for doc in documents:
        terms = document_terms(doc)
        facets = "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(terms) if k in FACET_KINDS.values())
        columns = [doc.get(c) for c in ("status", "media_type", "bucket", "key", "content_sha256", "analyzer",
                                        "taken_at", "indexed_at", "error")]
        rowid = conn.execute(f"""INSERT INTO {name}_docs (id, version, status, media_type, bucket, key, content_sha256,
            analyzer, taken_at, indexed_at, error, facets) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                             (doc["id"], *columns, facets)).lastrowid
        conn.execute(f"INSERT INTO {name}_bodies VALUES (?, ?)", (rowid, json.dumps(doc, ensure_ascii=False)))
        conn.executemany(f"INSERT INTO {name}_terms VALUES (?, ?, ?)", [(k, v, rowid) for k, v in terms])
        text, key = common.text_words(doc), common.key_words(doc)
        if doc.get("status") != "deleted" and (text or key):
            conn.execute(f"INSERT INTO {name}_fts (rowid, text, key_text) VALUES (?, ?, ?)", (rowid, text, key))
    conn.execute("COMMIT")
    conn.close()


def test_a_layout_3_file_is_upgraded_in_place(tmp_path):
    rng = random.Random(8)
    documents = corpus() + [tombstone_with_dog()] + [random_doc(rng, n) for n in range(200)]
    old_path, new_path = str(tmp_path / "layout3.db"), str(tmp_path / "layout4.db")
    write_layout_3(old_path, "photos", documents)
    SqliteIndex(new_path, "photos").put_many(documents)
    upgraded = SqliteIndex(old_path, "photos")
    assert answers(upgraded) == fresh_answers(new_path, "photos") == fresh_answers(old_path, "photos")
    assert upgraded.get(documents[0]["id"]).doc == documents[0]
    conn = sqlite3.connect(old_path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert not names & {f"photos_{gone}" for gone in ("labels", "terms", "faces", "counts", "labels_name",
                                                       "docs_status_taken_at_id", "docs_status_key_id", "docs_key")}
    assert {"photos_changes", "photos_vocabulary", "photos_docs_failed_indexed_at", "photos_docs_deleted_indexed_at",
            "photos_docs_content_sha256"} <= names and "photos_docs_status_indexed_at_id" not in names
    columns = {r[1] for r in conn.execute("PRAGMA table_info(photos_docs)")}
    assert {"terms", "labels", "faces"} <= columns and "facets" not in columns
    meta = dict(conn.execute("SELECT name, value FROM photos_meta"))
    assert meta["schema_version"] == str(sqlite_schema.SCHEMA_VERSION) and meta["generation"]
    conn.close()
    # the upgraded file takes writes like a new one
    changed = {**documents[1], "people": ["Grace Hopper"], "taken_at": "2011-01-01T00:00:00"}
    for path in (old_path, new_path):
        index = SqliteIndex(path, "photos")
        index.put(changed, index.get(changed["id"]).version)
    assert answers(upgraded) == fresh_answers(new_path, "photos") == fresh_answers(old_path, "photos")
    assert upgraded.query_side.builds == 1


def test_a_layout_4_file_is_repacked_in_place(tmp_path):
    """Layout 4 packed labels without their tier: the first opening packs every document again from its body
    (sqlite_migrations.py), in a new generation, and the file answers as a new file of the same documents."""
    documents = corpus() + [random_doc(random.Random(4), n) for n in range(100)]
    old_path, new_path = str(tmp_path / "layout4.db"), str(tmp_path / "new.db")
    for path in (old_path, new_path):
        index = SqliteIndex(path, "photos")
        index.put_many(documents)
        index.close()
    conn = sqlite3.connect(old_path)
    generation = dict(conn.execute("SELECT name, value FROM photos_meta"))["generation"]
    with conn:  # packed columns that only a repack from the bodies brings back
        conn.execute("UPDATE photos_docs SET terms = NULL, labels = NULL, faces = NULL")
        conn.execute("UPDATE photos_meta SET value = '4' WHERE name = 'schema_version'")
    conn.close()
    upgraded = SqliteIndex(old_path, "photos")
    assert answers(upgraded) == fresh_answers(new_path, "photos") == fresh_answers(old_path, "photos")
    conn = sqlite3.connect(old_path)
    meta = dict(conn.execute("SELECT name, value FROM photos_meta"))
    conn.close()
    assert meta["schema_version"] == str(sqlite_schema.SCHEMA_VERSION) and meta["generation"] != generation


def test_a_layout_2_file_is_refused(tmp_path):
    path = str(tmp_path / "layout2.db")
    conn = sqlite3.connect(path)
    conn.executescript("""CREATE TABLE media_docs (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc TEXT);
        CREATE TABLE media_meta (name TEXT PRIMARY KEY, value TEXT);
        INSERT INTO media_meta VALUES ('schema_version', '2')""")
    with pytest.raises(ConfigurationError, match=r"layout 2; this version reads layout 5: index into a new file"):
        SqliteIndex(path).search(Query())
    # refused in the transaction that would have changed it: the file is as it was
    assert conn.execute("SELECT value FROM media_meta").fetchall() == [("2",)]
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'media_changes'").fetchone() == (0,)
