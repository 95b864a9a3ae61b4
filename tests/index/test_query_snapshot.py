"""The query side saved beside the index file: a new process starts from it and reads only the changes since; a
snapshot that is missing, damaged, of another file or behind the pruned log is never trusted."""

from __future__ import annotations

import os
import random

import pytest

from mediaindex.adapters.index import sqlite_sync
from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.domain.expressions import FACETS
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.query_syntax import parse_query
from tests.index.corpus import random_doc

QUERIES = ["", "dog", "label:dog>=90", 'person:"Barack Obama"', "smile:true gender:female", "NOT emotion:happy",
           "emotion:happy>=80", 'text:"happy birthday"', "path:holidays/2024/", "taken:2018-01-01..2019-12-31",
           "(label:beach OR label:snow) NOT label:person age:20..40", "type:video OR status:failed"]
SORTS = [Sort("relevance"), Sort("taken_at", True), Sort("key", False), Sort("indexed_at", False)]


def answers(index: SqliteIndex) -> list:
    found = []
    for text in QUERIES:
        for sort in SORTS:
            result = index.search(Query(where=parse_query(text), sort=sort, limit=7, offset=2, facets=FACETS))
            found.append((text, sort, result.total, [h["id"] for h in result.hits], result.facets))
    return found


@pytest.fixture
def small_snapshots(monkeypatch):
    monkeypatch.setattr(sqlite_sync, "SNAPSHOT_MIN", 50)
    monkeypatch.setattr(sqlite_sync, "SNAPSHOT_EVERY", 30)


@pytest.fixture
def written(tmp_path, small_snapshots):
    path = str(tmp_path / "index.db")
    index = SqliteIndex(path)
    rng = random.Random(11)
    index.put_many([random_doc(rng, n) for n in range(300)])
    return path, index, rng


def test_a_new_process_starts_from_the_snapshot_and_answers_as_a_build(written):
    path, writer, rng = written
    writer.search(Query(limit=1))  # the first query builds and saves
    assert writer.query_side.builds == 1 and os.path.exists(f"{path}.media.query")
    reader = SqliteIndex(path)
    assert answers(reader) == answers(writer)
    assert (reader.query_side.loads, reader.query_side.builds) == (1, 0)


def test_changes_after_the_snapshot_are_applied_on_top_of_it(written):
    path, writer, rng = written
    writer.search(Query(limit=1))
    first, second = list(writer.iter_documents())[:2]
    current = writer.get(first["id"])  # after the save: a replacement, new documents (tombstones among them), a deletion
    writer.put({**random_doc(rng, 1000), "id": first["id"]}, current.version)
    for n in range(20):
        writer.put(random_doc(rng, 2000 + n), None)
    writer.delete_document(second["id"])
    reader = SqliteIndex(path)
    fresh = answers(reader)
    assert (reader.query_side.loads, reader.query_side.builds, reader.query_side.applied) == (1, 0, 22)
    os.unlink(f"{path}.media.query")
    assert fresh == answers(SqliteIndex(path))  # a build from the file


def test_a_damaged_or_foreign_snapshot_is_ignored(written, tmp_path):
    path, writer, rng = written
    writer.search(Query(limit=1))
    expected = answers(writer)
    snapshot = f"{path}.media.query"
    with open(snapshot, "r+b") as f:
        f.truncate(os.path.getsize(snapshot) // 2)
    reader = SqliteIndex(path)
    assert answers(reader) == expected and reader.query_side.builds == 1
    other = str(tmp_path / "other.db")  # another index's snapshot copied over: its generation differs
    SqliteIndex(other).put_many([random_doc(rng, n) for n in range(100)])
    SqliteIndex(other).search(Query(limit=1))
    os.replace(f"{other}.media.query", snapshot)
    reader = SqliteIndex(path)
    assert answers(reader) == expected and (reader.query_side.loads, reader.query_side.builds) == (0, 1)


def test_a_snapshot_behind_the_pruned_log_is_not_trusted(written, monkeypatch):
    path, writer, rng = written
    writer.search(Query(limit=1))
    monkeypatch.setattr(sqlite_sync, "KEEP_CHANGES", 5)
    writer.put_many([random_doc(rng, 5000 + n) for n in range(40)])  # prunes the log to its newest 5 entries
    reader = SqliteIndex(path)
    assert answers(reader) == answers(SqliteIndex(path, name="media")) and reader.query_side.loads == 0


def test_an_unwritable_folder_only_costs_a_build(written, monkeypatch):
    path, writer, rng = written
    reader = SqliteIndex(path)
    reader.query_side.snapshot_path = os.path.join(path + ".missing-folder", "index.db.media.query")
    assert answers(reader) == answers(writer)
    assert not os.path.exists(reader.query_side.snapshot_path)
