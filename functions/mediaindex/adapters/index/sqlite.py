"""The embedded index: one SQLite file, safe for several threads and several worker processes at once.

Each document is stored whole (JSON) with an integer version for compare-and-set, beside a narrow row of its
columns with the facts the query side needs (packed term codes, label rows, face rows), an FTS5 row of the words of its OCR text and key, and an entry
in the change log, all in one transaction. Queries are answered in memory by the query side (bitmap_engine.py),
built from the file and kept in step with every process's writes through that log (sqlite_sync.py): a count, the
facets and a page over a million documents take milliseconds, and a write touches few b-trees, so it stays as fast
as the index grows.

Durability: WAL journal, one short `BEGIN IMMEDIATE` transaction per write, synchronous=NORMAL (a killed process
loses nothing committed; a power cut may lose the last commits but never corrupts the file). Several processes
share the file through SQLite's locks; `busy_timeout` makes a writer wait its turn instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
from pyroaring import BitMap

from mediaindex.adapters.index import common, query_snapshot
from mediaindex.adapters.index.bitmap_columns import bitmap_of
from mediaindex.adapters.index.bitmap_engine import QueryColumns, search_facts
from mediaindex.adapters.index.sqlite_migrations import upgrade
from mediaindex.adapters.index.sqlite_schema import TableNames, check_file, create_tables, unusable
from mediaindex.adapters.own_files import disk_full
from mediaindex.adapters.index.sqlite_sync import QuerySide, Vocabulary, log_change, prune_changes
from mediaindex.domain.document import DocumentFields, SearchDocument
from mediaindex.domain.errors import TransientError, VersionConflict
from mediaindex.domain.expressions import ContentIn, Expr, resolve_people, scoring_concepts
from mediaindex.domain.query import Query
from mediaindex.ports import SearchResult, Versioned

T = TypeVar("T")
_PAGE = 500
# what reading a damaged query side or damaged rows raises (numpy, pyroaring, struct, json, the packed columns)
_DAMAGE = (ValueError, IndexError, KeyError, TypeError, OverflowError, struct.error, MemoryError)
_VARIABLES = 500  # ids bound in one `IN (...)`, well under SQLite's limit on a statement's parameters


class SqliteIndex:
    def __init__(self, path: str, name: str = "media", busy_timeout: float = 60.0, create: bool = True) -> None:
        self.path = str(path)
        self.create = create  # False (search, stats, serve): a missing file is "no index here", not a new one
        self.name = common.check_name(name)
        self.busy_timeout = busy_timeout
        self._memory = self.path in (":memory:", "")
        self._local = threading.local()
        # ":memory:" is private to one connection: share it between threads behind a lock.
        self._memory_lock = threading.RLock()
        self._memory_conn: sqlite3.Connection | None = None
        self._ready = False
        self._ready_lock = threading.Lock()
        self._writes = 0  # since this instance last pruned the change log
        self.tables = t = TableNames.of(self.name)
        self.t_docs, self.t_bodies, self.t_fts = t.docs, t.bodies, t.fts
        self.query_side = QuerySide(t, None if self._memory else f"{self.path}.{self.name}.query")
        self.vocabulary = Vocabulary(t)

    # ---- connections and transactions ----------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if not self._memory:
            check_file(self.path, self.create)
        try:
            if not self._memory and os.path.dirname(self.path):
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=not self._memory,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            if not self._memory:
                self._use_wal(conn)
                # checkpoint every ~40 MB of log, not 4 MB: a page rewritten by many small commits (the counts,
                # the b-trees' upper levels) is copied into the file once per checkpoint, and each checkpoint syncs
                conn.execute("PRAGMA wal_autocheckpoint = 10000")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA cache_size = -65536")  # 64 MB: most of the id and content indexes stay in memory
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise TransientError(f"SQLite index {self.path} is busy: {e}") from e
            raise unusable(self.path, e) from None
        except (sqlite3.DatabaseError, OSError) as e:
            raise unusable(self.path, e) from None
        return conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Write-ahead logging, kept in the file once set. Switching to it needs the file to itself, and SQLite
        answers "locked" at once, without its busy handler, while another process opens a new file at the same time
        (a bulk run's workers): so wait for the switch as the busy timeout would, and skip it once it is done."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as e:
                if not ("locked" in str(e) or "busy" in str(e)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.ensure_ready()
        with self._raw_conn() as conn:
            yield conn

    @contextmanager
    def _raw_conn(self) -> Iterator[sqlite3.Connection]:
        try:
            if self._memory:
                with self._memory_lock:
                    if self._memory_conn is None:
                        self._memory_conn = self._open()
                    yield self._memory_conn
                return
            conn = getattr(self._local, "conn", None)
            if conn is None or getattr(self._local, "pid", None) != os.getpid():  # never reuse across fork
                conn = self._local.conn = self._open()
                self._local.pid = os.getpid()
            yield conn
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise TransientError(f"SQLite index {self.path} is busy: {e}") from e
            if disk_full(e, self.path) or any(w in str(e) for w in ("readonly", "unable to open", "disk I/O", "decode")):
                raise unusable(self.path, e) from None
            raise
        except sqlite3.DatabaseError as e:  # "database disk image is malformed", "file is not a database"
            if isinstance(e, (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)):
                raise
            raise unusable(self.path, e) from None

    @contextmanager
    def _write(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE")  # take the write lock now: no deadlock upgrading a read lock later
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # SQLite has already rolled back after some errors (a full disk among them): a ROLLBACK then fails with
            # "cannot rollback - no transaction is active", which would hide the cause
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            self.vocabulary.rolled_back()
            raise
        self.vocabulary.committed()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._memory_conn is not None:
            self._memory_conn.close()
            self._memory_conn = None

    # ---- schema --------------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        """The file is there and holds this index's tables (looked at without creating either)."""
        if not self._memory and not os.path.exists(self.path):
            return False
        with self._raw_conn() as conn:  # not _conn: that would create the tables
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 (self.t_docs,)).fetchone()
        return found is not None

    def ensure_ready(self) -> None:
        with self._ready_lock:
            if self._ready:
                return
            with self._raw_conn() as conn, self._write(conn):
                upgrade(conn, self.tables, self.name)
                create_tables(conn, self.tables, self.path, self.name)
            self._ready = True

    # ---- reads and conditional writes ----------------------------------------------------------------------------
    def get(self, doc_id: str) -> Versioned | None:
        with self._conn() as conn:
            row = conn.execute(
                f"SELECT b.doc, d.version FROM {self.t_docs} d JOIN {self.t_bodies} b ON b.rowid = d.rowid WHERE d.id = ?",
                (doc_id,),
            ).fetchone()
        return Versioned(json.loads(row[0]), row[1]) if row else None

    def get_many(self, doc_ids: Sequence[str]) -> dict[str, Versioned]:
        """The documents of these ids, `_VARIABLES` ids per query (SQLite caps the bound parameters of one
        statement: 999 before 3.32); ids not held are absent."""
        found: dict[str, Versioned] = {}
        unique = list(dict.fromkeys(doc_ids))
        with self._conn() as conn:
            for start in range(0, len(unique), _VARIABLES):
                chunk = unique[start:start + _VARIABLES]
                rows = conn.execute(
                    f"""SELECT d.id, b.doc, d.version FROM {self.t_docs} d JOIN {self.t_bodies} b ON b.rowid = d.rowid
                    WHERE d.id IN ({', '.join('?' * len(chunk))})""",
                    chunk,
                )
                found.update((doc_id, Versioned(json.loads(payload), version)) for doc_id, payload, version in rows)
        return found

    def put(self, doc: SearchDocument, expected_version: Any | None) -> None:
        doc_id = doc["id"]
        with self._conn() as conn, self._write(conn):
            row = conn.execute(f"SELECT rowid, version FROM {self.t_docs} WHERE id = ?", (doc_id,)).fetchone()
            current = row[1] if row else None
            if current != expected_version:
                raise VersionConflict(f"document {doc_id}: expected version {expected_version}, found {current}")
            self._store(conn, doc, row[0] if row else None)
        self._wrote(1)

    def _wrote(self, count: int) -> None:
        """Every few thousand writes: keep the change log bounded."""
        self._writes += count
        if self._writes >= 2000:
            self._writes = 0
            with self._conn() as conn, self._write(conn):
                prune_changes(conn, self.tables)

    def _store(self, conn: sqlite3.Connection, doc: SearchDocument, rowid: int | None) -> None:
        """Write the document (replacing the row `rowid` when given), its words and its change-log entry, in the
        caller's transaction."""
        payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)
        error = doc.get("error")
        columns = (
            doc.get("status"), doc.get("media_type"), doc.get("bucket"), _text(doc.get("key")),
            doc.get("content_sha256"), doc.get("analyzer"), _text(doc.get("taken_at")), _text(doc.get("indexed_at")),
            None if error is None else str(error), *search_facts(doc).pack(self.vocabulary.coder(conn)),
        )
        if rowid is not None:
            conn.execute(f"DELETE FROM {self.t_fts} WHERE rowid = ?", (rowid,))
            conn.execute(
                f"""UPDATE {self.t_docs} SET version = version + 1, status = ?, media_type = ?, bucket = ?,
                key = ?, content_sha256 = ?, analyzer = ?, taken_at = ?, indexed_at = ?, error = ?, terms = ?,
                labels = ?, faces = ?
                WHERE rowid = ?""",
                (*columns, rowid),
            )
            conn.execute(f"UPDATE {self.t_bodies} SET doc = ? WHERE rowid = ?", (payload, rowid))
        else:
            rowid = conn.execute(
                f"""INSERT INTO {self.t_docs} (id, version, status, media_type, bucket, key, content_sha256,
                analyzer, taken_at, indexed_at, error, terms, labels, faces)
                VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (doc["id"], *columns),
            ).lastrowid
            assert rowid is not None  # an INSERT's lastrowid is the row it made
            conn.execute(f"INSERT INTO {self.t_bodies} (rowid, doc) VALUES (?, ?)", (rowid, payload))
        text, key = common.text_words(doc), common.key_words(doc)
        if doc.get("status") != "deleted" and (text or key):  # tombstones are never searched
            conn.execute(f"INSERT INTO {self.t_fts} (rowid, text, key_text) VALUES (?, ?, ?)", (rowid, text, key))
        log_change(conn, self.tables, rowid)

    def put_many(self, docs: Iterable[SearchDocument], chunk_size: int = 500) -> int:
        """Write documents unconditionally, many per transaction (no compare-and-set): for loading an index that
        nobody else is writing (migrations, benchmarks, tests). Returns how many were written."""
        written = 0
        batch: list[SearchDocument] = []

        def flush() -> None:
            with self._conn() as conn, self._write(conn):
                for doc in batch:
                    row = conn.execute(f"SELECT rowid FROM {self.t_docs} WHERE id = ?", (doc["id"],)).fetchone()
                    self._store(conn, doc, row[0] if row else None)

        for doc in docs:
            batch.append(doc)
            if len(batch) == chunk_size:
                flush()
                written += len(batch)
                batch = []
        if batch:
            flush()
            written += len(batch)
        self._wrote(max(written, 2000))
        return written

    def update_fields(self, doc_id: str, fields: DocumentFields, expected_version: Any) -> None:
        """Replace top-level fields of a document if it is still at `expected_version` (derived fields such as
        `people` and `face_count` are the caller's to pass along with `faces`)."""
        current = self.get(doc_id)
        if current is None or current.version != expected_version:
            raise VersionConflict(f"document {doc_id} changed or is gone")
        if dict(fields).get("id", doc_id) != doc_id:  # not a field of DocumentFields: a caller's slip
            raise ValueError("update_fields cannot change a document's id")
        self.put({**current.doc, **fields}, expected_version)

    def delete_document(self, doc_id: str) -> None:
        with self._conn() as conn, self._write(conn):
            row = conn.execute(f"SELECT rowid FROM {self.t_docs} WHERE id = ?", (doc_id,)).fetchone()
            if row:
                self._delete_rows(conn, row[0])

    def purge_tombstones(self, older_than_iso: str) -> int:
        """Remove tombstones written before `older_than_iso`; returns how many."""
        purged = 0
        while True:  # in batches, so other writers are never locked out for long
            with self._conn() as conn, self._write(conn):
                rows = conn.execute(
                    f"SELECT rowid FROM {self.t_docs} WHERE status = 'deleted' AND indexed_at < ? LIMIT {_PAGE}",
                    (older_than_iso,),
                ).fetchall()
                for (rowid,) in rows:
                    self._delete_rows(conn, rowid)
            purged += len(rows)
            if len(rows) < _PAGE:
                return purged

    def _delete_rows(self, conn: sqlite3.Connection, rowid: int) -> None:
        for table in (self.t_fts, self.t_bodies, self.t_docs):
            conn.execute(f"DELETE FROM {table} WHERE rowid = ?", (rowid,))
        log_change(conn, self.tables, rowid)

    def find_by_content(self, content_sha256: str, analyzer: str) -> SearchDocument | None:
        with self._conn() as conn:
            row = conn.execute(
                f"""SELECT b.doc FROM {self.t_docs} d JOIN {self.t_bodies} b ON b.rowid = d.rowid
                WHERE d.content_sha256 = ? AND d.analyzer = ? AND d.status = 'indexed'
                ORDER BY d.indexed_at IS NULL, d.indexed_at DESC, d.id LIMIT 1""",
                (content_sha256, analyzer),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def documents_with_content(self, content_sha256s: Sequence[str]) -> list[SearchDocument]:
        wanted = sorted(set(content_sha256s))
        found: list[SearchDocument] = []
        for start in range(0, len(wanted), 500):  # well under SQLite's bound-parameter limit
            chunk = wanted[start:start + 500]
            with self._conn() as conn:
                rows = conn.execute(
                    f"""SELECT b.doc FROM {self.t_docs} d JOIN {self.t_bodies} b ON b.rowid = d.rowid
                    WHERE d.content_sha256 IN ({",".join("?" * len(chunk))}) AND d.status = 'indexed'
                    ORDER BY d.id""", chunk,
                ).fetchall()
            found += [json.loads(row[0]) for row in rows]
        return sorted(found, key=lambda d: d["id"])

    def iter_documents(self, include_deleted: bool = False, after: str | None = None) -> Iterator[SearchDocument]:
        """Every document, in pages (no long-lived read transaction holding back the WAL); with `after`, in id
        order from the first id above it (the id's unique index)."""
        condition = "" if include_deleted else "AND d.status IS NOT 'deleted'"
        column = "d.rowid" if after is None else "d.id"
        last: int | str = 0 if after is None else after
        while True:
            with self._conn() as conn:
                rows = conn.execute(
                    f"""SELECT {column}, b.doc FROM {self.t_docs} d JOIN {self.t_bodies} b ON b.rowid = d.rowid
                    WHERE {column} > ? {condition} ORDER BY {column} LIMIT {_PAGE}""",
                    (last,),
                ).fetchall()
            for position, payload in rows:
                last = position
                yield json.loads(payload)
            if len(rows) < _PAGE:
                return

    def refresh(self) -> None:
        """Writes are visible as soon as they commit."""

    # ---- search --------------------------------------------------------------------------------------------------
    @contextmanager
    def _snapshot(self) -> Iterator[tuple[sqlite3.Connection, QueryColumns]]:
        """A read transaction and the query side as of it. The lock spans both: another thread of this process
        cannot move the query side past this transaction's view of the documents."""
        with self._conn() as conn, self.query_side.lock:
            conn.execute("BEGIN")
            try:
                yield conn, self.query_side.current(conn)
            finally:
                conn.execute("COMMIT")

    def _answer(self, answer: Callable[[sqlite3.Connection, QueryColumns], T]) -> T:
        """`answer(conn, columns)` in a read transaction with the query side as of it. A query side loaded from a
        snapshot that turns out damaged when a part of it is first read is dropped, and the answer made again from
        a build: a damaged cache costs time, never a wrong answer."""
        try:
            with self._snapshot() as (conn, columns):
                return answer(conn, columns)
        except query_snapshot.Damaged as e:
            self.query_side.damaged(e)
        except _DAMAGE as e:
            # A part that passed its checksum and still cannot be used (a forged or rewritten snapshot's arrays):
            # damage of the snapshot if the query side came from one, else of the rows it was built from
            identity = self.query_side.loaded_from
            if identity is None:
                raise self._damaged_rows(e) from None
            self.query_side.damaged(query_snapshot.Damaged(identity, f"{type(e).__name__}: {e}"))
        try:
            with self._snapshot() as (conn, columns):
                return answer(conn, columns)
        except _DAMAGE as e:
            raise self._damaged_rows(e) from None

    def _damaged_rows(self, e: Exception) -> Exception:
        """The error for index rows the query side cannot read (undecodable packed columns, a body that is not
        JSON): the file is damaged, whatever the query was (never reported as a query error)."""
        return unusable(self.path, f"a document's stored columns cannot be read: {type(e).__name__}: {e}")

    def person_names(self) -> list[str]:
        """Every known person some searchable document shows, as written: the people enrolled here, and the
        celebrities recognised (as OpenSearch's `people` search aid holds both)."""
        return self._answer(lambda _, columns: _searched_people(columns))

    def _matches(self, conn: sqlite3.Connection, columns: QueryColumns, query: Query) -> BitMap:
        """The documents matching the query, people's names resolved against the same snapshot."""
        where = resolve_people(query.effective_where(), lambda: _searched_people(columns))
        return columns.matching(where, lambda e: self._contents(conn, e) if isinstance(e, ContentIn)
                                else self.query_side.text(conn, e))

    def _contents(self, conn: sqlite3.Connection, e: ContentIn) -> BitMap:
        """The documents holding these bytes (the content hash has an index of its own)."""
        found = BitMap()
        hashes = list(e.hashes)
        for start in range(0, len(hashes), _VARIABLES):
            chunk = hashes[start:start + _VARIABLES]
            found.update(r[0] for r in conn.execute(
                f"SELECT rowid FROM {self.t_docs} WHERE content_sha256 IN ({', '.join('?' * len(chunk))})", chunk))
        return found

    def search(self, query: Query | Expr | str | None) -> SearchResult:
        query = Query.coerce(query)
        return self._answer(lambda conn, columns: self._search(conn, columns, query))

    def _search(self, conn: sqlite3.Connection, columns: QueryColumns, query: Query) -> SearchResult:
        matches = self._matches(conn, columns, query)
        total = len(matches)
        facets = columns.facets(matches, query.facets, query.facet_size) if query.facets else {}
        if not query.limit or total <= query.offset:
            return SearchResult(total=total, hits=[], facets=facets)
        if query.sort.field == "relevance" and scoring_concepts(query.where):
            rowids = self._ranked(conn, columns, query, matches)
        else:
            field = "taken_at" if query.sort.field == "relevance" else query.sort.field
            descending = query.sort.field == "relevance" or query.sort.descending
            candidates = columns.first(matches, field, query.offset + query.limit, descending)
            rowids = [r[0] for r in conn.execute(  # the few candidates in the exact order (ties by id)
                f"""SELECT d.rowid FROM {self.t_docs} d WHERE d.rowid IN (SELECT value FROM json_each(?))
                ORDER BY {order_by(query)} LIMIT ? OFFSET ?""",
                (json.dumps(candidates), query.limit, query.offset),
            )]
        bodies = dict(conn.execute(
            f"SELECT rowid, doc FROM {self.t_bodies} WHERE rowid IN (SELECT value FROM json_each(?))",
            (json.dumps(rowids),),
        ).fetchall())
        return SearchResult(total=total, hits=[json.loads(bodies[r]) for r in rowids], facets=facets)

    def _ranked(self, conn: sqlite3.Connection, columns: QueryColumns, query: Query, matches: BitMap) -> list[int]:
        """The page of a relevance search: by score, ties newest taken first, then by id (both descending)."""
        where = resolve_people(query.effective_where(), lambda: _searched_people(columns))
        slots, scores = columns.scores(where, matches, lambda e: self.query_side.text(conn, e))
        wanted = query.offset + query.limit
        scores = scores.astype(np.float32)  # as OpenSearch keeps scores: the same ties on both backends
        order: list[int] = []
        for score in _distinct_descending(scores):  # each score's documents in the tie order, best score first
            group = bitmap_of(slots[scores == score])
            order.extend(columns.first(group, "taken_at", wanted - len(order), True))
            if len(order) >= wanted:
                break
        if len(order) <= query.offset:
            return []
        candidates = np.asarray(order, dtype=np.int64)
        at = np.searchsorted(slots, candidates)
        exact = dict(zip(candidates.tolist(), scores[at].tolist()))
        rows = conn.execute(  # the candidates in the exact order: the sorted column may lag a few changes
            f"SELECT rowid, taken_at, id FROM {self.t_docs} WHERE rowid IN (SELECT value FROM json_each(?))",
            (json.dumps(candidates.tolist()),)).fetchall()
        rows.sort(key=lambda r: (exact[r[0]], r[1] is not None, r[1] or "", r[2]), reverse=True)
        rows = rows[query.offset:wanted]
        return [r[0] for r in rows]

    def count(self, query: Query | Expr | str | None) -> int:
        query = Query.coerce(query)
        return self._answer(lambda conn, columns: len(self._matches(conn, columns, query)))

    # ---- overview ------------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return self._answer(self._stats)

    def _stats(self, conn: sqlite3.Connection, columns: QueryColumns) -> dict[str, Any]:
        by_status = {s: len(columns.term("status", s)) for s in ("indexed", "failed", "deleted")}
        indexed = columns.term("status", "indexed")
        facets = columns.facets(indexed, ("labels", "people"), common.STATS_LIMIT)
        media_types = columns.facets(indexed | columns.term("status", "failed"), ("media_type",), 50)
        failures = [
            {"key": key, "error": error}
            for key, error in conn.execute(
                f"""SELECT key, error FROM {self.t_docs} WHERE status = 'failed'
                ORDER BY indexed_at IS NULL, indexed_at DESC, id LIMIT ?""",
                (common.STATS_LIMIT,),
            )
        ]
        return {
            "documents": by_status["indexed"] + by_status["failed"],
            "indexed": by_status["indexed"],
            "failed": by_status["failed"],
            "deleted": by_status["deleted"],
            "media_types": media_types["media_type"],
            "top_labels": [[v, c] for v, c in facets["labels"].items()],
            "people": [[v, c] for v, c in facets["people"].items()],
            "failures": failures,
        }


def order_by(query: Query) -> str:
    sort = query.sort
    if sort.field == "relevance":
        return "d.taken_at DESC, d.id DESC"  # without concepts there is no score: newest taken first
    direction = "DESC" if sort.descending else "ASC"
    return f"d.{sort.field} {direction}, d.id {direction}"  # NULLs count as smallest; ties follow the direction


def _distinct_descending(values: np.ndarray) -> np.ndarray:
    """np.unique(values)[::-1], without np.unique: its first call imports numpy.ma, 25 ms of a new process's
    first search."""
    ordered = np.sort(values)[::-1]
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


def _text(value: Any) -> str | None:
    """A sortable column is text (or NULL), as the query side compares it."""
    return None if value is None else str(value)


def _searched_people(columns: QueryColumns) -> list[str]:
    """The names `person:` resolves against: people enrolled here, then celebrities, each once."""
    return list(dict.fromkeys([*columns.values("person"), *columns.values("celebrity")]))
