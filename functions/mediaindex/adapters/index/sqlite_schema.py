"""The embedded index's file: its tables, and plain words for a file that is not a whole index."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.expressions import FACE_BOOLEANS

SCHEMA_VERSION = 3


@dataclass(frozen=True)
class TableNames:
    """The tables of one index in the file, all named after it (several indexes may share a file)."""

    docs: str
    bodies: str
    labels: str
    terms: str
    faces: str
    fts: str
    counts: str  # documents per (status, facet kind, value): facets of "everything" at once
    meta: str

    @classmethod
    def of(cls, name: str) -> "TableNames":
        return cls(*(f"{name}_{table}" for table in ("docs", "bodies", "labels", "terms", "faces", "fts", "counts", "meta")))


def create_tables(conn: sqlite3.Connection, t: TableNames, path: str) -> None:
    """Create what is missing, in the caller's write transaction; refuse a file of another layout."""
    booleans = ", ".join(f"{b} INTEGER" for b in FACE_BOOLEANS)
    # narrow rows to filter and sort on; the JSON bodies live apart so scans stay small
    conn.execute(f"""CREATE TABLE IF NOT EXISTS {t.docs} (
        rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL,
        status TEXT, media_type TEXT, bucket TEXT, key TEXT, content_sha256 TEXT, analyzer TEXT,
        taken_at TEXT, indexed_at TEXT, error TEXT, facets TEXT)""")
    for column in ("status, indexed_at, id", "status, taken_at, id", "status, key, id", "key", "content_sha256"):
        index_name = f"{t.docs}_{column.replace(', ', '_')}"
        conn.execute(f"CREATE INDEX IF NOT EXISTS {index_name} ON {t.docs} ({column})")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {t.bodies} (rowid INTEGER PRIMARY KEY, doc TEXT NOT NULL)")
    conn.execute(f"""CREATE TABLE IF NOT EXISTS {t.labels} (
        doc INTEGER NOT NULL, name TEXT NOT NULL, confidence REAL)""")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {t.labels}_name ON {t.labels} (name, confidence, doc)")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {t.labels}_doc ON {t.labels} (doc)")
    conn.execute(f"""CREATE TABLE IF NOT EXISTS {t.terms} (
        kind TEXT NOT NULL, value TEXT NOT NULL, doc INTEGER NOT NULL,
        PRIMARY KEY (kind, value, doc)) WITHOUT ROWID""")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {t.terms}_doc ON {t.terms} (doc, kind, value)")
    conn.execute(f"""CREATE TABLE IF NOT EXISTS {t.faces} (
        doc INTEGER NOT NULL, {booleans}, gender TEXT, age_low REAL, age_high REAL,
        emotion TEXT, emotion_confidence REAL)""")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {t.faces}_doc ON {t.faces} (doc)")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {t.faces}_emotion ON {t.faces} (emotion)")
    # ascii tokenizer: words are pre-split by text_tokens (shared with OpenSearch) and joined by spaces
    conn.execute(f"""CREATE VIRTUAL TABLE IF NOT EXISTS {t.fts}
        USING fts5(text, key_text, tokenize = 'ascii')""")
    conn.execute(f"""CREATE TABLE IF NOT EXISTS {t.counts} (
        status TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (status, kind, value)) WITHOUT ROWID""")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {t.meta} (name TEXT PRIMARY KEY, value TEXT)")
    conn.execute(f"INSERT OR IGNORE INTO {t.meta} VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    found = conn.execute(f"SELECT value FROM {t.meta} WHERE name = 'schema_version'").fetchone()[0]
    if found != str(SCHEMA_VERSION):
        raise ConfigurationError(
            f"{path} holds a mediaindex index of layout {found}; this version reads layout "
            f"{SCHEMA_VERSION}: index into a new file (or delete this one) and run `mediaindex backfill`"
        )


def check_file(path: str, create: bool) -> None:
    """Say what is wrong with the index file before SQLite does it obscurely (or, for a truncated file, only
    when a query reaches the missing pages): a folder, no file where one must be, or not a whole database."""
    if os.path.isdir(path):
        raise ConfigurationError(f"MEDIAINDEX_INDEX: the SQLite index {path} is a folder; name a file in it, "
                                 f"e.g. sqlite:///{os.path.join(os.path.abspath(path), 'index.db')}")
    if not os.path.exists(path):
        if not create:
            raise ConfigurationError(
                f"no index at {path}: index some files first (`mediaindex index PATH`), or point "
                "MEDIAINDEX_INDEX (or MEDIAINDEX_HOME) at the index"
            )
        return
    for attempt in range(3):
        try:
            with open(path, "rb") as f:
                header = f.read(100)
                size = os.fstat(f.fileno()).st_size
        except OSError as e:
            raise unusable(path, e) from None
        if size == 0:
            return  # an empty file is an empty database
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            raise unusable(path, "not an SQLite database")
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(header[28:32], "big")
        # the page count in the header holds when its change counter matches (SQLite's own rule)
        if header[24:28] != header[92:96] or pages * page_size <= size:
            return
        # Another process may be checkpointing its write-ahead log into the file right now (the header is
        # written before the file has grown): only a file that stays short, with no log pending, is truncated.
        wal = f"{path}-wal"
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            return
        time.sleep(0.05 * (attempt + 1))
    raise unusable(path, f"truncated: {size:,} bytes of the {pages * page_size:,} its header declares")

def unusable(path: str, error: Any) -> ConfigurationError:
    """The error to raise for an index file SQLite cannot use: damaged (rebuild it), or not reachable (fix the
    folder or its permissions)."""
    text = str(error)
    if isinstance(error, (sqlite3.DatabaseError, str)) and not any(
            w in text for w in ("unable to open", "readonly", "read-only", "permission")):
        return ConfigurationError(
            f"the index {path} is damaged ({text}): move it aside and run `mediaindex index PATH...` "
            "again to rebuild it from the files (known people stay in faces.db)"
        )
    return ConfigurationError(
        f"cannot open or write the index {path} ({text}): check that MEDIAINDEX_HOME (or the folder of "
        "MEDIAINDEX_INDEX) exists and is writable"
    )
