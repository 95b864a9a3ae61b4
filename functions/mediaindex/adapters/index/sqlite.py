"""The embedded index: one SQLite file, safe for several threads and several worker processes at once.

Each document is stored whole (JSON) with an integer version for compare-and-set, beside side tables that make
the query model fast: one row per label name with its confidence, one row per face with its attributes, a
(kind, value, doc) table for people/labels/emotions (queries and facets), and an FTS5 table of the words of the
OCR text and of the key. Side rows are rewritten in the same transaction as the document, so they never disagree.

Durability: WAL journal, one short `BEGIN IMMEDIATE` transaction per write, synchronous=NORMAL (a killed process
loses nothing committed; a power cut may lose the last commits but never corrupts the file). Several processes
share the file through SQLite's locks; `busy_timeout` makes a writer wait its turn instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterable, Iterator, Sequence

from mediaindex.adapters.index import common
from mediaindex.adapters.index.sqlite_query import (
    FACET_KINDS, SideTables, compile_where, count_facets, document_terms, only_statuses, order_by, pack_facets,
)
from mediaindex.adapters.index.sqlite_schema import TableNames, check_file, create_tables, unusable
from mediaindex.domain.errors import TransientError, VersionConflict
from mediaindex.domain.expressions import FACE_BOOLEANS, And, Expr, Not, Or, StatusIs, resolve_people, simplify, walk
from mediaindex.domain.query import Query
from mediaindex.ports import SearchResult, Versioned

_PAGE = 500
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
        self._writes = 0  # since this instance last checked the planner's statistics
        self.tables = t = TableNames.of(self.name)
        self.t_docs, self.t_bodies, self.t_labels, self.t_terms, self.t_faces, self.t_fts, self.t_meta = (
            t.docs, t.bodies, t.labels, t.terms, t.faces, t.fts, t.meta,
        )
        self.t_counts = t.counts
        self._side_tables = SideTables(labels=self.t_labels, terms=self.t_terms, faces=self.t_faces, fts=self.t_fts)

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
                conn.execute("PRAGMA journal_mode = WAL")
                # checkpoint every ~40 MB of log, not 4 MB: a page rewritten by many small commits (the counts,
                # the b-trees' upper levels) is copied into the file once per checkpoint, and each checkpoint syncs
                conn.execute("PRAGMA wal_autocheckpoint = 10000")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise TransientError(f"SQLite index {self.path} is busy: {e}") from e
            raise unusable(self.path, e) from None
        except (sqlite3.DatabaseError, OSError) as e:
            raise unusable(self.path, e) from None
        return conn

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
            if any(w in str(e) for w in ("readonly", "unable to open", "disk I/O")):
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
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

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
                create_tables(conn, self.tables, self.path)
            self._ready = True
            with self._raw_conn() as conn:
                self._refresh_statistics(conn)

    def _refresh_statistics(self, conn: sqlite3.Connection) -> None:
        """Re-ANALYZE when the index has grown a lot since the last time: without statistics SQLite drives every
        query from the status index, which is slow for selective filters (a path, a rare label)."""
        self._writes = 0
        try:
            documents = conn.execute(f"SELECT count(*) FROM {self.t_docs}").fetchone()[0]
            row = conn.execute(f"SELECT value FROM {self.t_meta} WHERE name = 'analyzed_documents'").fetchone()
            analyzed = int(row[0]) if row else 0
            if documents < 2 * analyzed + 1000:
                return
            conn.execute("PRAGMA analysis_limit = 1000")  # sampled: tens of milliseconds even at 100,000 documents
            with self._write(conn):
                conn.execute(f"ANALYZE {self.name}_docs")
                for table in (self.t_labels, self.t_terms, self.t_faces):
                    conn.execute(f"ANALYZE {table}")
                conn.execute(f"INSERT OR REPLACE INTO {self.t_meta} VALUES ('analyzed_documents', ?)", (str(documents),))
        except sqlite3.OperationalError:  # busy: another process is writing; statistics can wait
            pass

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

    def put(self, doc: dict[str, Any], expected_version: Any | None) -> None:
        doc_id = doc["id"]
        with self._conn() as conn, self._write(conn):
            row = conn.execute(f"SELECT rowid, version FROM {self.t_docs} WHERE id = ?", (doc_id,)).fetchone()
            current = row[1] if row else None
            if current != expected_version:
                raise VersionConflict(f"document {doc_id}: expected version {expected_version}, found {current}")
            self._store(conn, doc, row[0] if row else None)
        self._writes += 1
        if self._writes >= 2000:
            with self._conn() as conn:
                self._refresh_statistics(conn)

    def _store(self, conn: sqlite3.Connection, doc: dict[str, Any], rowid: int | None) -> None:
        """Write the document (replacing the row `rowid` when given) and its side rows, in the caller's
        transaction."""
        payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)
        error = doc.get("error")
        columns = (
            doc.get("status"), doc.get("media_type"), doc.get("bucket"), doc.get("key"), doc.get("content_sha256"),
            doc.get("analyzer"), doc.get("taken_at"), doc.get("indexed_at"), None if error is None else str(error),
            pack_facets(document_terms(doc)),
        )
        if rowid is not None:
            self._delete_side_rows(conn, rowid)  # first: it reads the old status to correct the counts
            conn.execute(
                f"""UPDATE {self.t_docs} SET version = version + 1, status = ?, media_type = ?, bucket = ?,
                key = ?, content_sha256 = ?, analyzer = ?, taken_at = ?, indexed_at = ?, error = ?, facets = ?
                WHERE rowid = ?""",
                (*columns, rowid),
            )
            conn.execute(f"UPDATE {self.t_bodies} SET doc = ? WHERE rowid = ?", (payload, rowid))
        else:
            rowid = conn.execute(
                f"""INSERT INTO {self.t_docs} (id, version, status, media_type, bucket, key, content_sha256,
                analyzer, taken_at, indexed_at, error, facets) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (doc["id"], *columns),
            ).lastrowid
            conn.execute(f"INSERT INTO {self.t_bodies} (rowid, doc) VALUES (?, ?)", (rowid, payload))
        self._insert_side_rows(conn, rowid, doc)

    def put_many(self, docs: Iterable[dict[str, Any]], chunk_size: int = 500) -> int:
        """Write documents unconditionally, many per transaction (no compare-and-set): for loading an index that
        nobody else is writing (migrations, benchmarks, tests). Returns how many were written."""
        written = 0
        batch: list[dict[str, Any]] = []

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
        with self._conn() as conn:
            self._refresh_statistics(conn)
        return written

    def update_fields(self, doc_id: str, fields: dict[str, Any], expected_version: Any) -> None:
        """Replace top-level fields of a document if it is still at `expected_version` (derived fields such as
        `people` and `face_count` are the caller's to pass along with `faces`)."""
        current = self.get(doc_id)
        if current is None or current.version != expected_version:
            raise VersionConflict(f"document {doc_id} changed or is gone")
        if "id" in fields and fields["id"] != doc_id:
            raise ValueError("update_fields cannot change a document's id")
        self.put({**current.doc, **fields}, expected_version)

    def delete_document(self, doc_id: str) -> None:
        with self._conn() as conn, self._write(conn):
            row = conn.execute(f"SELECT rowid FROM {self.t_docs} WHERE id = ?", (doc_id,)).fetchone()
            if row:
                self._delete_side_rows(conn, row[0])
                conn.execute(f"DELETE FROM {self.t_bodies} WHERE rowid = ?", (row[0],))
                conn.execute(f"DELETE FROM {self.t_docs} WHERE rowid = ?", (row[0],))

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
                    self._delete_side_rows(conn, rowid)
                    conn.execute(f"DELETE FROM {self.t_bodies} WHERE rowid = ?", (rowid,))
                    conn.execute(f"DELETE FROM {self.t_docs} WHERE rowid = ?", (rowid,))
            purged += len(rows)
            if len(rows) < _PAGE:
                return purged

    def _delete_side_rows(self, conn: sqlite3.Connection, rowid: int) -> None:
        kinds = ", ".join(f"'{k}'" for k in FACET_KINDS.values())
        conn.execute(
            f"""UPDATE {self.t_counts} SET n = n - 1 WHERE (status, kind, value) IN (
                SELECT d.status, t.kind, t.value FROM {self.t_terms} t JOIN {self.t_docs} d ON d.rowid = t.doc
                WHERE t.doc = ? AND t.kind IN ({kinds}))""",
            (rowid,),
        )
        for table in (self.t_labels, self.t_terms, self.t_faces):
            conn.execute(f"DELETE FROM {table} WHERE doc = ?", (rowid,))
        conn.execute(f"DELETE FROM {self.t_fts} WHERE rowid = ?", (rowid,))

    def _insert_side_rows(self, conn: sqlite3.Connection, rowid: int, doc: dict[str, Any]) -> None:
        if doc.get("status") == "deleted":
            return  # tombstones are never searched
        conn.executemany(
            f"INSERT INTO {self.t_labels} (doc, name, confidence) VALUES (?, ?, ?)",
            [
                (rowid, name, label.get("confidence"))
                for label in doc.get("labels") or []
                for name in common.label_entry_names(label)
            ],
        )
        terms = document_terms(doc)
        conn.executemany(
            f"INSERT INTO {self.t_terms} (kind, value, doc) VALUES (?, ?, ?)", [(k, v, rowid) for k, v in terms]
        )
        status = str(doc.get("status"))
        conn.executemany(
            f"""INSERT INTO {self.t_counts} (status, kind, value, n) VALUES (?, ?, ?, 1)
            ON CONFLICT (status, kind, value) DO UPDATE SET n = n + 1""",
            [(status, k, v) for k, v in terms if k in FACET_KINDS.values()],
        )
        face_rows = []
        for face in doc.get("faces") or []:
            emotion, emotion_confidence = common.top_emotion(face)
            flags = [None if face.get(b) is None else int(bool(face.get(b))) for b in FACE_BOOLEANS]
            gender = face.get("gender")
            face_rows.append((
                rowid, *flags, gender.lower() if gender else None, face.get("age_low"), face.get("age_high"),
                emotion, emotion_confidence,
            ))
        if face_rows:
            marks = ", ".join("?" * len(face_rows[0]))
            conn.executemany(f"INSERT INTO {self.t_faces} VALUES ({marks})", face_rows)
        text, key = common.text_words(doc), common.key_words(doc)
        if text or key:
            conn.execute(f"INSERT INTO {self.t_fts} (rowid, text, key_text) VALUES (?, ?, ?)", (rowid, text, key))

    def find_by_content(self, content_sha256: str, analyzer: str) -> dict[str, Any] | None:
        with self._conn() as conn:
            row = conn.execute(
                f"""SELECT b.doc FROM {self.t_docs} d JOIN {self.t_bodies} b ON b.rowid = d.rowid
                WHERE d.content_sha256 = ? AND d.analyzer = ? AND d.status = 'indexed'
                ORDER BY d.indexed_at IS NULL, d.indexed_at DESC, d.id LIMIT 1""",
                (content_sha256, analyzer),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def iter_documents(self, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every document, in pages (no long-lived read transaction holding back the WAL)."""
        last = 0
        condition = "" if include_deleted else "AND d.status IS NOT 'deleted'"
        while True:
            with self._conn() as conn:
                rows = conn.execute(
                    f"""SELECT d.rowid, b.doc FROM {self.t_docs} d JOIN {self.t_bodies} b ON b.rowid = d.rowid
                    WHERE d.rowid > ? {condition} ORDER BY d.rowid LIMIT {_PAGE}""",
                    (last,),
                ).fetchall()
            for rowid, payload in rows:
                last = rowid
                yield json.loads(payload)
            if len(rows) < _PAGE:
                return

    def refresh(self) -> None:
        """Writes are visible as soon as they commit."""

    # ---- search --------------------------------------------------------------------------------------------------
    def person_names(self) -> list[str]:
        """Every known person some searchable document shows, as written: from the small counts table, not the
        terms (one row per document and person), so a bare word costs no scan of the whole index."""
        with self._conn() as conn:
            return [r[0] for r in conn.execute(
                f"SELECT DISTINCT value FROM {self.t_counts} WHERE kind = 'person' AND n > 0 AND status <> 'deleted'")]

    def _resolved(self, query: Query | Expr | str | None) -> Query:
        query = Query.coerce(query)
        where = resolve_people(query.where, self.person_names)
        return query if where is query.where else replace(query, where=where)

    def search(self, query: Query | Expr | str | None) -> SearchResult:
        query = self._resolved(query)
        effective = query.effective_where()
        where, params = self._compile(effective)
        counted_statuses = only_statuses(effective)  # facets of "everything": read from the counts table
        d = self.t_docs
        with self._conn() as conn:
            conn.execute("BEGIN")  # one snapshot for the count, the page and the facets
            try:
                facets: dict[str, dict[str, int]] = {}
                if query.facets and counted_statuses is not None:
                    total = conn.execute(f"SELECT count(*) FROM {d} d WHERE {where}", params).fetchone()[0]
                    facets = {name: self._counted_facet(conn, name, query.facet_size, counted_statuses)
                              for name in query.facets}
                elif query.facets:
                    total, facets = self._facets(conn, query)
                else:
                    total = conn.execute(f"SELECT count(*) FROM {d} d WHERE {where}", params).fetchone()[0]
                hits: list[dict[str, Any]] = []
                if query.limit and total > query.offset:
                    rowids = [r[0] for r in conn.execute(
                        f"SELECT d.rowid FROM {d} d WHERE {where} ORDER BY {order_by(query)} LIMIT ? OFFSET ?",
                        (*params, query.limit, query.offset),
                    )]
                    bodies = dict(conn.execute(
                        f"SELECT rowid, doc FROM {self.t_bodies} WHERE rowid IN ({','.join('?' * len(rowids))})", rowids,
                    ).fetchall())
                    hits = [json.loads(bodies[r]) for r in rowids]
            finally:
                conn.execute("COMMIT")
        return SearchResult(total=total, hits=hits, facets=facets)

    def count(self, query: Query | Expr | str | None) -> int:
        query = self._resolved(query)
        where, params = self._compile(query.effective_where())
        with self._conn() as conn:
            return conn.execute(f"SELECT count(*) FROM {self.t_docs} d WHERE {where}", params).fetchone()[0]

    def _facets(self, conn: sqlite3.Connection, query: Query) -> tuple[int, dict[str, dict[str, int]]]:
        """The number of matches and their facets, from the packed facet values counted in Python (only matching
        rows are read). When most documents match, the few that do not are counted instead and taken off the kept
        counts."""
        names_status = any(isinstance(e, StatusIs) for e in walk(query.where))
        statuses = ["failed", "indexed"] if names_status else sorted(set(query.statuses) - {"deleted"})
        universe = Or(*(StatusIs(s) for s in statuses))
        population = self.count(Query(where=universe, statuses=tuple(statuses))) if statuses else 0
        where, params = self._compile(query.effective_where())
        sql = f"SELECT d.facets FROM {self.t_docs} d WHERE {where}"
        few = min(population // 2, 2000) + 1  # most searches match few documents: one pass is enough then
        rows = conn.execute(f"{sql} LIMIT ?", (*params, few)).fetchall()
        if len(rows) < few:
            return len(rows), count_facets((r[0] for r in rows), query.facets, query.facet_size)
        total = conn.execute(f"SELECT count(*) FROM {self.t_docs} d WHERE {where}", params).fetchone()[0]
        if total * 2 <= population:
            rows = conn.execute(sql, params).fetchall()
            return total, count_facets((r[0] for r in rows), query.facets, query.facet_size)
        where, params = self._compile(simplify(And(universe, Not(query.where))))
        rows = conn.execute(f"SELECT d.facets FROM {self.t_docs} d WHERE {where}", params).fetchall()
        excluded = count_facets((r[0] for r in rows), query.facets, None)
        result = {}
        for name in query.facets:
            kept = self._counted_facet(conn, name, None, statuses)
            remaining = [(v, c - excluded[name].get(v, 0)) for v, c in kept.items()]
            ordered = sorted(((v, c) for v, c in remaining if c > 0), key=lambda vc: (-vc[1], vc[0]))
            result[name] = dict(ordered[:query.facet_size])
        return population - len(rows), result

    def _counted_facet(
        self, conn: sqlite3.Connection, name: str, size: int | None, statuses: list[str],
    ) -> dict[str, int]:
        marks = ", ".join("?" * len(statuses))
        sql = f"""SELECT value, sum(n) c FROM {self.t_counts} WHERE kind = ? AND status IN ({marks}) AND n > 0
            GROUP BY value ORDER BY c DESC, value LIMIT ?"""
        rows = conn.execute(sql, (FACET_KINDS[name], *statuses, -1 if size is None else size))
        return {value: count for value, count in rows}

    def _compile(self, expr: Expr) -> tuple[str, list[Any]]:
        return compile_where(expr, self._side_tables)

    # ---- overview ------------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        d = self.t_docs
        with self._conn() as conn:
            by_status = dict(conn.execute(f"SELECT status, count(*) FROM {d} GROUP BY status").fetchall())
            media_types = self._counted_facet(conn, "media_type", 50, ["failed", "indexed"])

            def top_terms(facet: str) -> list[list[Any]]:
                return [[v, c] for v, c in self._counted_facet(conn, facet, common.STATS_LIMIT, ["indexed"]).items()]

            failures = [
                {"key": key, "error": error}
                for key, error in conn.execute(
                    f"""SELECT key, error FROM {d} WHERE status = 'failed'
                    ORDER BY indexed_at IS NULL, indexed_at DESC, id LIMIT ?""",
                    (common.STATS_LIMIT,),
                )
            ]
            return {
                "documents": by_status.get("indexed", 0) + by_status.get("failed", 0),
                "indexed": by_status.get("indexed", 0),
                "failed": by_status.get("failed", 0),
                "deleted": by_status.get("deleted", 0),
                "media_types": media_types,
                "top_labels": top_terms("labels"),
                "people": top_terms("people"),
                "failures": failures,
            }
