"""Keeps the query side (bitmap_engine.py) in step with the SQLite file, whoever writes it: built from the file at
first use, then, before each query, brought up to date from the change log that every write appends to (one row
per written or deleted document, in commit order) inside the query's own read transaction, so the bitmaps and the
documents a page returns are of the same moment."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from typing import Any, Callable

from pyroaring import BitMap

from mediaindex.adapters.index import query_snapshot
from mediaindex.adapters.index.bitmap_columns import SortedColumn, bitmap_of
from mediaindex.adapters.index.bitmap_engine import SORTED_FIELDS, QueryColumns
from mediaindex.adapters.index.sqlite_schema import TableNames
from mediaindex.domain.expressions import TextHas

REBUILD_SHARE = 0.25  # more changed documents than this share of the index: building afresh is quicker
SORT_SLACK = 10_000  # changed slots a sort field takes (plus 1% of the index) before SQLite sorts it again
KEEP_CHANGES = 1_000_000  # the log keeps this many newest entries; a reader further behind builds afresh
SNAPSHOT_MIN = 20_000  # documents from which the query side is saved beside the file (below, a build is quick)
SNAPSHOT_EVERY = 50_000  # changes applied since the last save that make it worth saving again
TEXT_CACHE = 256  # word conditions whose documents are kept until the index changes
log = logging.getLogger(__name__)


class QuerySide:
    """The query side of one index in one process, and the position in the change log it reflects."""

    def __init__(self, tables: TableNames, snapshot_path: str | None = None) -> None:
        self.tables = tables
        self.snapshot_path = snapshot_path  # None: never saved (an in-memory index)
        self.columns: QueryColumns | None = None
        self.seq = 0
        self.saved_seq = 0
        self.generation: str | None = None
        self.stamp: int | None = None  # the stamp of the change-log entry at `seq` the loaded snapshot was saved at
        self.lock = threading.RLock()  # held by the caller around its read transaction (see SqliteIndex.search)
        self.builds = 0
        self.loads = 0
        self.applied = 0
        self._text_cache: dict[str, BitMap] = {}
        self._text_state: tuple[str | None, int] | None = None
        self.loaded_from: query_snapshot.Identity | None = None  # the snapshot file the columns were loaded from
        self.refused: set[query_snapshot.Identity] = set()  # snapshot files found damaged: never loaded again

    def current(self, conn: sqlite3.Connection) -> QueryColumns:
        """The query side as of the caller's read transaction."""
        t = self.tables
        top, oldest, generation = conn.execute(
            f"""SELECT (SELECT max(seq) FROM {t.changes}), (SELECT min(seq) FROM {t.changes}),
            (SELECT value FROM {t.meta} WHERE name = 'generation')""").fetchone()
        top = top or 0
        if self.columns is None and self.snapshot_path and generation:
            self._load(conn, top, oldest, generation)
        if self.columns is None or generation != self.generation or top < self.seq:
            return self._build(conn, top, generation)
        if top > self.seq:
            if oldest is not None and oldest > self.seq + 1:  # the entries it needs were pruned
                return self._build(conn, top, generation)
            changed = [r[0] for r in conn.execute(f"SELECT DISTINCT doc FROM {t.changes} WHERE seq > ?", (self.seq,))]
            if len(changed) > max(1000, REBUILD_SHARE * len(self.columns.present)):
                return self._build(conn, top, generation)
            self._apply(conn, changed)
            self.seq = top
        for name in self.columns.stale_columns(SORT_SLACK + len(self.columns.present) // 100):
            self.columns.sorted[name] = SortedColumn(*self._sorted(conn, name))
        if self.seq - self.saved_seq >= SNAPSHOT_EVERY:
            self._save(conn)
        return self.columns

    def _stamp(self, conn: sqlite3.Connection, seq: int) -> int | None:
        """The random stamp of the change-log entry at `seq` (None: no such entry)."""
        row = conn.execute(f"SELECT stamp FROM {self.tables.changes} WHERE seq = ?", (seq,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _load(self, conn: sqlite3.Connection, top: int, oldest: int | None, generation: str) -> None:
        assert self.snapshot_path is not None
        loaded = query_snapshot.load(self.snapshot_path, generation, self.refused)
        if loaded is None:
            return
        columns, seq, identity, stamp = loaded
        if seq > top or (oldest is not None and oldest > seq + 1 and top > seq):
            return  # newer than this transaction's view, or the log no longer reaches back to it
        # The proof that the snapshot belongs to this history, not only to this file's generation: the log entry at
        # its position carries the random stamp it saw. A copy of the file restored from a backup keeps the
        # generation and moves the log back, and its new writes reuse the positions with other stamps; a snapshot
        # forged or copied from another history holds another stamp too. Either is built afresh.
        if stamp is None or self._stamp(conn, seq) != stamp:
            log.info("query side snapshot %s is of another history of %s: building afresh", self.snapshot_path,
                     generation)
            return
        self.columns, self.seq, self.saved_seq, self.generation = columns, seq, seq, generation
        self.loaded_from, self.stamp = identity, stamp
        self.loads += 1

    def damaged(self, e: query_snapshot.Damaged) -> None:
        """Part of the loaded snapshot failed its check when read: drop what was loaded from that file (the next
        query builds afresh) and never load the file again."""
        with self.lock:
            log.warning("query side snapshot %s damaged (%s): building afresh", self.snapshot_path, e)
            self.refused.add(e.identity)
            if self.loaded_from == e.identity:
                self.columns, self.loaded_from = None, None

    def _save(self, conn: sqlite3.Connection) -> None:
        if self.snapshot_path and self.columns is not None and self.generation \
                and len(self.columns.present) >= SNAPSHOT_MIN:
            stamp = self._stamp(conn, self.seq)
            if stamp is not None:  # without an entry to vouch for it, a snapshot could never be proven: not saved
                query_snapshot.save(self.snapshot_path, self.columns, self.seq, self.generation, stamp)
        self.saved_seq = self.seq  # tried: a folder that refuses it is not asked again at every query

    def _build(self, conn: sqlite3.Connection, top: int, generation: str | None) -> QueryColumns:
        columns = QueryColumns()
        columns.learn(conn.execute(f"SELECT code, kind, value FROM {self.tables.vocabulary}"))
        rows = conn.execute(f"SELECT rowid, terms, labels, faces FROM {self.tables.docs} ORDER BY rowid").fetchall()
        columns.load([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
                     {name: self._sorted(conn, name) for name in SORTED_FIELDS})
        self.columns, self.seq, self.generation, self.loaded_from = columns, top, generation, None
        self.builds += 1
        self._save(conn)
        return columns

    def _sorted(self, conn: sqlite3.Connection, field: str) -> tuple[list[int], list[Any]]:
        slots, values = [], []
        for slot, value in conn.execute(f"SELECT rowid, {field} FROM {self.tables.docs} ORDER BY {field}, id"):
            slots.append(slot)
            values.append(value)
        return slots, values

    def _apply(self, conn: sqlite3.Connection, changed: list[int]) -> None:
        columns = self.columns
        assert columns is not None
        columns.learn(conn.execute(f"SELECT code, kind, value FROM {self.tables.vocabulary} WHERE code > ?",
                                   (columns.top_code,)))
        rows = conn.execute(
            f"""SELECT rowid, key, taken_at, indexed_at, terms, labels, faces FROM {self.tables.docs}
            WHERE rowid IN (SELECT value FROM json_each(?))""", (json.dumps(changed),)).fetchall()
        for slot in changed:
            if slot in columns.present:
                columns.remove(slot)
        for slot, key, taken_at, indexed_at, terms, labels, faces in rows:
            columns.put(slot, terms, labels, faces, {"key": key, "taken_at": taken_at, "indexed_at": indexed_at})
        self.applied += len(changed)

    def text(self, conn: sqlite3.Connection, e: TextHas) -> BitMap:
        """Documents holding the words (in order, for a phrase) in their text or key: from FTS5. Kept while the
        index does not change: a free-text search asks for each word's text several times (whether any file has
        it, what matches, how it ranks)."""
        match = f'"{" ".join(e.tokens)}"' if e.phrase else " AND ".join(f'"{t}"' for t in e.tokens)
        state = (self.generation, self.seq)
        if self._text_state != state:
            self._text_cache, self._text_state = {}, state
        found = self._text_cache.get(match)
        if found is None:
            fts = self.tables.fts
            found = bitmap_of([r[0] for r in conn.execute(f"SELECT rowid FROM {fts} WHERE {fts} MATCH ?", (match,))])
            if len(self._text_cache) >= TEXT_CACHE:
                self._text_cache.clear()
            self._text_cache[match] = found
        return found


class Vocabulary:
    """The writer's side of the file's term numbering (<name>_vocabulary): a document's terms are stored as codes.
    Codes a transaction assigns are remembered only once it commits (a rolled-back code may be reused)."""

    def __init__(self, tables: TableNames) -> None:
        self.tables = tables
        self.known: dict[tuple[str, str], int] = {}
        self.generation: str | None = None
        self._local = threading.local()

    def _pending(self) -> dict[tuple[str, str], int]:
        if not hasattr(self._local, "pending"):
            self._local.pending = {}
        return self._local.pending

    def coder(self, conn: sqlite3.Connection) -> Callable[[str, str], int]:
        """In the caller's write transaction: a term's code, numbering it if it is new."""
        t = self.tables
        row = conn.execute(f"SELECT value FROM {t.meta} WHERE name = 'generation'").fetchone()
        generation = row[0] if row else None
        if generation != self.generation:  # another file under the same path: its numbering is its own
            self.known, self.generation = {}, generation
        pending = self._pending()

        def code(kind: str, value: str) -> int:
            term = (kind, value)
            found = self.known.get(term)
            if found is None:
                found = pending.get(term)
            if found is None:
                row = conn.execute(f"SELECT code FROM {t.vocabulary} WHERE kind = ? AND value = ?", term).fetchone()
                found = row[0] if row else conn.execute(
                    f"INSERT INTO {t.vocabulary} (kind, value) VALUES (?, ?)", term).lastrowid
                assert found is not None  # an INSERT's lastrowid is the row it made
                pending[term] = found
            return found

        return code

    def committed(self) -> None:
        pending = self._pending()
        self.known.update(pending)
        pending.clear()

    def rolled_back(self) -> None:
        self._pending().clear()


def log_change(conn: sqlite3.Connection, tables: TableNames, rowid: int) -> None:
    """In the writer's transaction: this document changed (written, replaced or gone)."""
    conn.execute(f"INSERT INTO {tables.changes} (doc, stamp) VALUES (?, random())", (rowid,))


def prune_changes(conn: sqlite3.Connection, tables: TableNames) -> None:
    """Drop the log's oldest entries beyond KEEP_CHANGES (a reader that far behind builds afresh anyway)."""
    conn.execute(f"DELETE FROM {tables.changes} WHERE seq <= (SELECT max(seq) FROM {tables.changes}) - ?",
                 (KEEP_CHANGES,))
