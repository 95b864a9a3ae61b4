"""The one-off upgrades of an embedded index file written by an older version, run before the tables are made
(sqlite_schema.create_tables refuses any layout left unknown). They live apart from the schema because they pack
documents again, which needs the query side's packing and the writer's vocabulary (sqlite_sync.py)."""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from typing import Callable

from mediaindex.adapters.index.bitmap_engine import search_facts
from mediaindex.adapters.index.sqlite_schema import SCHEMA_VERSION, TableNames, create_vocabulary, layout
from mediaindex.adapters.index.sqlite_sync import Vocabulary

log = logging.getLogger(__name__)


def upgrade(conn: sqlite3.Connection, t: TableNames, name: str) -> None:
    """Bring this index up to SCHEMA_VERSION in the caller's write transaction when it is of an older layout this
    version knows; anything else is left as it is."""
    step = UPGRADES.get(layout(conn, t) or "")
    if step is not None:
        step(conn, t, name)


def _from_3(conn: sqlite3.Connection, t: TableNames, name: str) -> None:
    """Layout 3 kept side tables for SQL queries: pack each document's facts from its body, drop those tables (their
    pages are reused by later writes) and start the change log and the vocabulary."""
    create_vocabulary(conn, t)
    for column in ("terms", "labels", "faces"):
        conn.execute(f"ALTER TABLE {t.docs} ADD COLUMN {column} BLOB")
    code = Vocabulary(t).coder(conn)
    rows = conn.execute(f"SELECT rowid, doc FROM {t.bodies}").fetchall()
    log.warning("upgrading the index %s (%s documents) to layout %s, once: its queries now run in memory",
                name, f"{len(rows):,}", SCHEMA_VERSION)
    conn.executemany(f"UPDATE {t.docs} SET terms = ?, labels = ?, faces = ? WHERE rowid = ?",
                     [(*search_facts(json.loads(doc)).pack(code), rowid) for rowid, doc in rows])
    conn.execute(f"ALTER TABLE {t.docs} DROP COLUMN facets")
    conn.execute(f"UPDATE {t.meta} SET value = ? WHERE name = 'generation'", (uuid.uuid4().hex,))
    for table in ("labels", "terms", "faces", "counts"):
        conn.execute(f"DROP TABLE IF EXISTS {name}_{table}")
    for index_name in ("status_indexed_at_id", "status_taken_at_id", "status_key_id", "key"):
        conn.execute(f"DROP INDEX IF EXISTS {t.docs}_{index_name}")
    conn.execute(f"UPDATE {t.meta} SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION),))


def _from_4(conn: sqlite3.Connection, t: TableNames, name: str) -> None:
    _repack(conn, t, name, "its labels now say how specifically they match, for ranking")


def _repack(conn: sqlite3.Connection, t: TableNames, name: str, why: str) -> None:
    """Pack every document's facts again from its body (a new layout of the packed columns)."""
    code = Vocabulary(t).coder(conn)
    rows = conn.execute(f"SELECT rowid, doc FROM {t.bodies}").fetchall()
    log.warning("upgrading the index %s (%s documents) to layout %s, once: %s", name, f"{len(rows):,}",
                SCHEMA_VERSION, why)
    conn.executemany(f"UPDATE {t.docs} SET terms = ?, labels = ?, faces = ? WHERE rowid = ?",
                     [(*search_facts(json.loads(doc)).pack(code), rowid) for rowid, doc in rows])
    conn.execute(f"UPDATE {t.meta} SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION),))
    # a new history for the query side: every process builds it afresh from the repacked rows
    conn.execute(f"UPDATE {t.meta} SET value = ? WHERE name = 'generation'", (uuid.uuid4().hex,))


# The layout found -> the step that brings it to SCHEMA_VERSION.
UPGRADES: dict[str, Callable[[sqlite3.Connection, TableNames, str], None]] = {"3": _from_3, "4": _from_4}
