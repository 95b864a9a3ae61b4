"""The embedded index's file: its tables, and plain words for a file that is not a whole index."""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any

from mediaindex.adapters.own_files import NotRegularFile, disk_full, open_regular
from mediaindex.domain.errors import ConfigurationError

SCHEMA_VERSION = 5  # 4: the query side lives in memory (bitmap_engine.py); 5: label rows carry their tier (relevance)


@dataclass(frozen=True)
class TableNames:
    """The tables of one index in the file, all named after it (several indexes may share a file)."""

    docs: str
    bodies: str
    fts: str
    changes: str  # one row per written or deleted document, in commit order: what other processes must re-read
    vocabulary: str  # every term a document holds, numbered: documents store their terms as these numbers
    meta: str

    @classmethod
    def of(cls, name: str) -> "TableNames":
        return cls(*(f"{name}_{table}" for table in ("docs", "bodies", "fts", "changes", "vocabulary", "meta")))


def create_tables(conn: sqlite3.Connection, t: TableNames, path: str, name: str) -> None:
    """Create what is missing, in the caller's write transaction; refuse a file of another layout (the older layouts
    sqlite_migrations.py knows are brought up to date before)."""
    found = layout(conn, t)
    if found is not None and found != str(SCHEMA_VERSION):
        raise ConfigurationError(
            f"{path} holds a mediaindex index of layout {found}; this version reads layout "
            f"{SCHEMA_VERSION}: index into a new file (or delete this one) and run `mediaindex backfill`"
        )
    # narrow rows; the JSON bodies live apart. terms, labels and faces: what the query side holds of the document
    # (bitmap_engine.Facts.pack: packed arrays of vocabulary codes and numbers)
    conn.execute(f"""CREATE TABLE IF NOT EXISTS {t.docs} (
        rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL,
        status TEXT, media_type TEXT, bucket TEXT, key TEXT, content_sha256 TEXT, analyzer TEXT,
        taken_at TEXT, indexed_at TEXT, error TEXT, terms BLOB, labels BLOB, faces BLOB)""")
    # Few indexes, since every index costs each write a page at a random place once the index is large (the
    # queries are answered in memory): the id's, the content hash's (copies are not analysed twice), and two
    # partial ones that only failed documents and tombstones enter (the failures `stats` lists, tombstone purges).
    conn.execute(f"CREATE INDEX IF NOT EXISTS {t.docs}_content_sha256 ON {t.docs} (content_sha256)")
    for status in ("failed", "deleted"):
        conn.execute(f"""CREATE INDEX IF NOT EXISTS {t.docs}_{status}_indexed_at ON {t.docs} (indexed_at, id)
            WHERE status = '{status}'""")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {t.bodies} (rowid INTEGER PRIMARY KEY, doc TEXT NOT NULL)")
    # ascii tokenizer: words are pre-split by text_tokens (shared with OpenSearch) and joined by spaces
    conn.execute(f"""CREATE VIRTUAL TABLE IF NOT EXISTS {t.fts}
        USING fts5(text, key_text, tokenize = 'ascii')""")
    # stamp: a random number drawn for each entry, which the saved query side keeps of the entry at its position,
    # so that a copy of the file restored from a backup (its log moved back, new writes reusing the positions) or a
    # snapshot of another history is told apart from the history it was saved from (sqlite_sync.QuerySide._load)
    conn.execute(f"""CREATE TABLE IF NOT EXISTS {t.changes} (
        seq INTEGER PRIMARY KEY, doc INTEGER NOT NULL, stamp INTEGER)""")
    if "stamp" not in {row[1] for row in conn.execute(f"PRAGMA table_info({t.changes})")}:
        # a log written before stamps: stamp its entries now (a restored copy of it draws other numbers)
        conn.execute(f"ALTER TABLE {t.changes} ADD COLUMN stamp INTEGER")
        conn.execute(f"UPDATE {t.changes} SET stamp = random()")
    create_vocabulary(conn, t)
    conn.execute(f"CREATE TABLE IF NOT EXISTS {t.meta} (name TEXT PRIMARY KEY, value TEXT)")
    conn.execute(f"INSERT OR IGNORE INTO {t.meta} VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    # a new file is a new generation: a process holding the query side of a file since replaced builds afresh
    conn.execute(f"INSERT OR IGNORE INTO {t.meta} VALUES ('generation', ?)", (uuid.uuid4().hex,))


def create_vocabulary(conn: sqlite3.Connection, t: TableNames) -> None:
    conn.execute(f"""CREATE TABLE IF NOT EXISTS {t.vocabulary} (
        code INTEGER PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL, UNIQUE (kind, value))""")


def layout(conn: sqlite3.Connection, t: TableNames) -> str | None:
    """The layout (SCHEMA_VERSION) the file holds this index in; None when it holds no such index yet."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (t.meta,)).fetchone() is None:
        return None
    row = conn.execute(f"SELECT value FROM {t.meta} WHERE name = 'schema_version'").fetchone()
    return row[0] if row else None


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
            with open_regular(path) as f:
                header = f.read(100)
                size = os.fstat(f.fileno()).st_size
        except NotRegularFile as e:  # a named pipe would hang SQLite's open for ever
            raise ConfigurationError(
                f"the index {path} is not a file SQLite can use ({e.strerror}): move it aside and run "
                "`mediaindex index PATH...` to build the index there again (known people stay in faces.db)"
            ) from None
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
    if not isinstance(error, str) and disk_full(error, path):  # not damage: nothing was lost, and nothing to move aside
        return ConfigurationError(
            f"the disk holding the index {path} is full ({text}): free some space and run the command again "
            "(nothing was lost)"
        )
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
