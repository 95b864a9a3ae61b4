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
import time
import sqlite3
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from itertools import chain
from typing import Any, Iterable, Iterator, Sequence

from mediaindex.adapters.index import common
from mediaindex.domain.errors import ConfigurationError, TransientError, VersionConflict
from mediaindex.domain.query import (
    FACE_BOOLEANS, All, And, DateRange, EmotionIs, Expr, FaceHas, KeyPrefix, LabelIs, MediaTypeIs, Not, Or,
    PersonIs, Query, StatusIs, TextHas, resolve_people, simplify, walk,
)
from mediaindex.ports import SearchResult, Versioned

SCHEMA_VERSION = 3
_SEP, _KIND_SEP = "\x1f", "\x1e"  # packing of a document's facet values in docs.facets
FACET_KINDS = {"labels": "label", "people": "person", "emotions": "emotion", "media_type": "media_type"}
_PAGE = 500
_VARIABLES = 500  # ids bound in one `IN (...)`, well under SQLite's limit on a statement's parameters


def _terms(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, value) pairs of a document for person queries and facets; none for tombstones."""
    if doc.get("status") == "deleted":
        return set()
    terms = {("label", str(n)) for n in doc.get("label_names") or [] if n}
    terms |= {("person", str(p)) for p in doc.get("people") or [] if p}
    terms |= {("person_lc", p) for p in common.people_lower(doc)}
    terms |= {("emotion", e) for e in common.face_emotions(doc)}
    if doc.get("media_type"):
        terms.add(("media_type", str(doc["media_type"])))
    return terms


def _pack_facets(terms: set[tuple[str, str]]) -> str:
    facet_kinds = set(FACET_KINDS.values())
    return _SEP.join(
        f"{kind}{_KIND_SEP}{value.replace(_SEP, ' ')}" for kind, value in sorted(terms) if kind in facet_kinds
    )


def _count_facets(packed: Iterable[str | None], names: Iterable[str], size: int | None) -> dict[str, dict[str, int]]:
    counts = Counter(chain.from_iterable(p.split(_SEP) for p in packed if p))
    per_kind: dict[str, list[tuple[str, int]]] = {kind: [] for kind in FACET_KINDS.values()}
    for entry, count in counts.items():
        kind, _, value = entry.partition(_KIND_SEP)
        per_kind[kind].append((value, count))
    result = {}
    for name in names:
        ordered = sorted(per_kind[FACET_KINDS[name]], key=lambda vc: (-vc[1], vc[0]))  # as OpenSearch orders
        result[name] = dict(ordered if size is None else ordered[:size])
    return result


def _only_statuses(expr: Expr) -> list[str] | None:
    """The statuses when the condition is nothing but a status (the default "everything" query), else None."""
    parts = expr.parts if isinstance(expr, Or) else (expr,)
    if all(isinstance(p, StatusIs) for p in parts):
        return sorted({p.status for p in parts if isinstance(p, StatusIs)})
    return None


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
        t = self.name
        self.t_docs, self.t_bodies, self.t_labels, self.t_terms, self.t_faces, self.t_fts, self.t_meta = (
            f"{t}_docs", f"{t}_bodies", f"{t}_labels", f"{t}_terms", f"{t}_faces", f"{t}_fts", f"{t}_meta",
        )
        self.t_counts = f"{t}_counts"  # documents per (status, facet kind, value): facets of "everything" at once

    # ---- connections and transactions ----------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if not self._memory:
            self._check_file()
        try:
            if not self._memory and os.path.dirname(self.path):
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=not self._memory,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            if not self._memory:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise TransientError(f"SQLite index {self.path} is busy: {e}") from e
            raise self._unusable(e) from None
        except (sqlite3.DatabaseError, OSError) as e:
            raise self._unusable(e) from None
        return conn

    def _check_file(self) -> None:
        """Say what is wrong with the index file before SQLite does it obscurely (or, for a truncated file, only
        when a query reaches the missing pages): a folder, no file where one must be, or not a whole database."""
        if os.path.isdir(self.path):
            raise ConfigurationError(f"MEDIAINDEX_INDEX: the SQLite index {self.path} is a folder; name a file in it, "
                                     f"e.g. sqlite:///{os.path.join(os.path.abspath(self.path), 'index.db')}")
        if not os.path.exists(self.path):
            if not self.create:
                raise ConfigurationError(
                    f"no index at {self.path}: index some files first (`mediaindex index PATH`), or point "
                    "MEDIAINDEX_INDEX (or MEDIAINDEX_HOME) at the index"
                )
            return
        for attempt in range(3):
            try:
                with open(self.path, "rb") as f:
                    header = f.read(100)
                    size = os.fstat(f.fileno()).st_size
            except OSError as e:
                raise self._unusable(e) from None
            if size == 0:
                return  # an empty file is an empty database
            if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
                raise self._unusable("not an SQLite database")
            page_size = int.from_bytes(header[16:18], "big")
            page_size = 65536 if page_size == 1 else page_size
            pages = int.from_bytes(header[28:32], "big")
            # the page count in the header holds when its change counter matches (SQLite's own rule)
            if header[24:28] != header[92:96] or pages * page_size <= size:
                return
            # Another process may be checkpointing its write-ahead log into the file right now (the header is
            # written before the file has grown): only a file that stays short, with no log pending, is truncated.
            wal = f"{self.path}-wal"
            if os.path.exists(wal) and os.path.getsize(wal) > 0:
                return
            time.sleep(0.05 * (attempt + 1))
        raise self._unusable(f"truncated: {size:,} bytes of the {pages * page_size:,} its header declares")

    def _unusable(self, error: Any) -> ConfigurationError:
        text = str(error)
        if isinstance(error, (sqlite3.DatabaseError, str)) and not any(
                w in text for w in ("unable to open", "readonly", "read-only", "permission")):
            return ConfigurationError(
                f"the index {self.path} is damaged ({text}): move it aside and run `mediaindex index PATH...` "
                "again to rebuild it from the files (known people stay in faces.db)"
            )
        return ConfigurationError(
            f"cannot open or write the index {self.path} ({text}): check that MEDIAINDEX_HOME (or the folder of "
            "MEDIAINDEX_INDEX) exists and is writable"
        )

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
                raise self._unusable(e) from None
            raise
        except sqlite3.DatabaseError as e:  # "database disk image is malformed", "file is not a database"
            if isinstance(e, (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)):
                raise
            raise self._unusable(e) from None

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
    def ensure_ready(self) -> None:
        with self._ready_lock:
            if self._ready:
                return
            booleans = ", ".join(f"{b} INTEGER" for b in FACE_BOOLEANS)
            with self._raw_conn() as conn, self._write(conn):
                # narrow rows to filter and sort on; the JSON bodies live apart so scans stay small
                conn.execute(f"""CREATE TABLE IF NOT EXISTS {self.t_docs} (
                    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL,
                    status TEXT, media_type TEXT, bucket TEXT, key TEXT, content_sha256 TEXT, analyzer TEXT,
                    taken_at TEXT, indexed_at TEXT, error TEXT, facets TEXT)""")
                for column in ("status, indexed_at, id", "status, taken_at, id", "status, key, id", "key", "content_sha256"):
                    index_name = f"{self.t_docs}_{column.replace(', ', '_')}"
                    conn.execute(f"CREATE INDEX IF NOT EXISTS {index_name} ON {self.t_docs} ({column})")
                conn.execute(f"CREATE TABLE IF NOT EXISTS {self.t_bodies} (rowid INTEGER PRIMARY KEY, doc TEXT NOT NULL)")
                conn.execute(f"""CREATE TABLE IF NOT EXISTS {self.t_labels} (
                    doc INTEGER NOT NULL, name TEXT NOT NULL, confidence REAL)""")
                conn.execute(f"CREATE INDEX IF NOT EXISTS {self.t_labels}_name ON {self.t_labels} (name, confidence, doc)")
                conn.execute(f"CREATE INDEX IF NOT EXISTS {self.t_labels}_doc ON {self.t_labels} (doc)")
                conn.execute(f"""CREATE TABLE IF NOT EXISTS {self.t_terms} (
                    kind TEXT NOT NULL, value TEXT NOT NULL, doc INTEGER NOT NULL,
                    PRIMARY KEY (kind, value, doc)) WITHOUT ROWID""")
                conn.execute(f"CREATE INDEX IF NOT EXISTS {self.t_terms}_doc ON {self.t_terms} (doc, kind, value)")
                conn.execute(f"""CREATE TABLE IF NOT EXISTS {self.t_faces} (
                    doc INTEGER NOT NULL, {booleans}, gender TEXT, age_low REAL, age_high REAL,
                    emotion TEXT, emotion_confidence REAL)""")
                conn.execute(f"CREATE INDEX IF NOT EXISTS {self.t_faces}_doc ON {self.t_faces} (doc)")
                conn.execute(f"CREATE INDEX IF NOT EXISTS {self.t_faces}_emotion ON {self.t_faces} (emotion)")
                # ascii tokenizer: words are pre-split by text_tokens (shared with OpenSearch) and joined by spaces
                conn.execute(f"""CREATE VIRTUAL TABLE IF NOT EXISTS {self.t_fts}
                    USING fts5(text, key_text, tokenize = 'ascii')""")
                conn.execute(f"""CREATE TABLE IF NOT EXISTS {self.t_counts} (
                    status TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, n INTEGER NOT NULL,
                    PRIMARY KEY (status, kind, value)) WITHOUT ROWID""")
                conn.execute(f"CREATE TABLE IF NOT EXISTS {self.t_meta} (name TEXT PRIMARY KEY, value TEXT)")
                conn.execute(f"INSERT OR IGNORE INTO {self.t_meta} VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                found = conn.execute(f"SELECT value FROM {self.t_meta} WHERE name = 'schema_version'").fetchone()[0]
                if found != str(SCHEMA_VERSION):
                    raise ConfigurationError(
                        f"{self.path} holds a mediaindex index of layout {found}; this version reads layout "
                        f"{SCHEMA_VERSION}: index into a new file (or delete this one) and run `mediaindex backfill`"
                    )
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
            _pack_facets(_terms(doc)),
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
        terms = _terms(doc)
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
        counted_statuses = _only_statuses(effective)  # facets of "everything": read from the counts table
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
                        f"SELECT d.rowid FROM {d} d WHERE {where} ORDER BY {self._order(query)} LIMIT ? OFFSET ?",
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
            return len(rows), _count_facets((r[0] for r in rows), query.facets, query.facet_size)
        total = conn.execute(f"SELECT count(*) FROM {self.t_docs} d WHERE {where}", params).fetchone()[0]
        if total * 2 <= population:
            rows = conn.execute(sql, params).fetchall()
            return total, _count_facets((r[0] for r in rows), query.facets, query.facet_size)
        where, params = self._compile(simplify(And(universe, Not(query.where))))
        rows = conn.execute(f"SELECT d.facets FROM {self.t_docs} d WHERE {where}", params).fetchall()
        excluded = _count_facets((r[0] for r in rows), query.facets, None)
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

    @staticmethod
    def _order(query: Query) -> str:
        sort = query.sort
        if sort.field == "relevance":
            return "d.indexed_at DESC, d.id DESC"  # SQLite does not score: newest first
        direction = "DESC" if sort.descending else "ASC"
        # NULLs count as smallest and ties follow the direction, so the (status, field, id) indexes serve the order
        return f"d.{sort.field} {direction}, d.id {direction}"

    def _compile(self, expr: Expr) -> tuple[str, list[Any]]:
        """The expression as an SQL condition on `d` (the docs table). Under a NOT, comparisons with columns that
        may be NULL are wrapped so they are 0, never NULL: NOT then means exactly "does not match", as in
        OpenSearch. Elsewhere they stay bare so SQLite can use the column indexes (NULL acts as false there)."""
        params: list[Any] = []

        def sub(sql: str, *values: Any) -> str:
            params.extend(values)
            return f"d.rowid IN ({sql})"

        def column_test(condition: str, negated: bool) -> str:
            return f"coalesce({condition}, 0)" if negated else f"({condition})"

        def rec(e: Expr, negated: bool) -> str:
            if isinstance(e, All):
                return "1"
            if isinstance(e, And):
                return "(" + " AND ".join(rec(p, negated) for p in e.parts) + ")" if e.parts else "1"
            if isinstance(e, Or):
                return "(" + " OR ".join(rec(p, negated) for p in e.parts) + ")" if e.parts else "0"
            if isinstance(e, Not):
                return f"NOT {rec(e.part, not negated)}"
            if isinstance(e, LabelIs):
                forms = e.forms
                names = ", ".join("?" * len(forms))
                if e.min_confidence is None:
                    return sub(f"SELECT doc FROM {self.t_labels} WHERE name IN ({names})", *forms)
                return sub(f"SELECT doc FROM {self.t_labels} WHERE name IN ({names}) AND confidence >= ?",
                           *forms, e.min_confidence)
            if isinstance(e, PersonIs):
                people = [e.name.lower()] if e.names is None else list(e.names)
                if not people:
                    return "0"
                marks = ", ".join("?" * len(people))
                return sub(f"SELECT doc FROM {self.t_terms} WHERE kind = 'person_lc' AND value IN ({marks})", *people)
            if isinstance(e, EmotionIs):
                if e.min_confidence is None:
                    return sub(f"SELECT doc FROM {self.t_faces} WHERE emotion = ?", e.type)
                return sub(
                    f"SELECT doc FROM {self.t_faces} WHERE emotion = ? AND emotion_confidence >= ?",
                    e.type, e.min_confidence,
                )
            if isinstance(e, FaceHas):
                if e.attr in FACE_BOOLEANS:
                    return sub(f"SELECT doc FROM {self.t_faces} WHERE {e.attr} = ?", int(e.value))
                if e.attr == "gender":
                    return sub(f"SELECT doc FROM {self.t_faces} WHERE gender = ?", e.value)
                low, high = e.value
                conditions, values = [], []
                if high is not None:
                    conditions.append("age_low <= ?")
                    values.append(high)
                if low is not None:
                    conditions.append("age_high >= ?")
                    values.append(low)
                return sub(f"SELECT doc FROM {self.t_faces} WHERE {' AND '.join(conditions)}", *values)
            if isinstance(e, TextHas):
                tokens = e.tokens
                if not tokens:
                    return "0"
                match = f'"{" ".join(tokens)}"' if e.phrase else " AND ".join(f'"{t}"' for t in tokens)
                return sub(f"SELECT rowid FROM {self.t_fts} WHERE {self.t_fts} MATCH ?", match)
            if isinstance(e, MediaTypeIs):
                params.append(e.media_type)
                return column_test("d.media_type = ?", negated)
            if isinstance(e, StatusIs):
                params.append(e.status)
                return column_test("d.status = ?", negated)
            if isinstance(e, KeyPrefix):
                upper = common.next_prefix(e.prefix)
                params.append(e.prefix)
                if upper is None:
                    return column_test("d.key >= ?", negated)
                params.append(upper)
                return column_test("d.key >= ? AND d.key < ?", negated)
            if isinstance(e, DateRange):
                conditions = []
                column = f"d.{e.field}"
                if e.since is not None:
                    conditions.append(f"{column} >= ?")
                    params.append(e.since)
                if e.before is not None:
                    conditions.append(f"{column} < ?")
                    params.append(e.before)
                if not conditions:
                    conditions.append(f"{column} IS NOT NULL")
                return column_test(" AND ".join(conditions), negated)
            raise TypeError(f"not a query expression: {e!r}")

        return rec(expr, False), params

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
