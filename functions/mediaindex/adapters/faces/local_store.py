"""The face collection's SQLite file (`faces.db`): its tables, the columns later versions added, and where it lives.

- `enrolled`: the faces of known people (face_id, person, source file, embedding, model);
- `remembered`: every face of every analysed picture (content_sha256, face index, box, embedding, cluster, model);
- `hidden`: boxes marked "not a face" (content_sha256, box), dropped whenever those bytes are indexed again;
- `cluster_apart`: pairs of faces whose clusters were split by hand and are never joined again;
- `pending_rematch`: changes whose re-match of the documents is owed;
- `face_id_high`: the highest `remembered` row id ever given, so that no id is given twice (the search graph's
  labels, ann.py).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS enrolled (
    face_id TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    source TEXT NOT NULL,
    embedding BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS enrolled_person ON enrolled(person);
CREATE INDEX IF NOT EXISTS enrolled_source ON enrolled(source);
CREATE TABLE IF NOT EXISTS remembered (
    id INTEGER PRIMARY KEY,
    content_sha256 TEXT NOT NULL,
    face_index INTEGER NOT NULL,
    box TEXT NOT NULL,
    embedding BLOB NOT NULL,
    cluster INTEGER NOT NULL,
    UNIQUE (content_sha256, face_index)
);
CREATE TABLE IF NOT EXISTS pending_rematch (
    id INTEGER PRIMARY KEY,
    person TEXT
);
CREATE TABLE IF NOT EXISTS hidden (
    id INTEGER PRIMARY KEY,
    content_sha256 TEXT NOT NULL,
    box TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS hidden_content ON hidden(content_sha256);
CREATE TABLE IF NOT EXISTS face_id_high (high INTEGER NOT NULL);
INSERT INTO face_id_high (high) SELECT coalesce((SELECT max(id) FROM remembered), 0)
    WHERE NOT EXISTS (SELECT 1 FROM face_id_high);
CREATE TABLE IF NOT EXISTS cluster_apart (
    a INTEGER NOT NULL,
    b INTEGER NOT NULL,
    PRIMARY KEY (a, b)
);
"""
# Files made before vectors knew their model hold dlib's vectors only: the new column says so for their rows.
_MIGRATIONS = (
    ("enrolled", "ALTER TABLE enrolled ADD COLUMN model TEXT NOT NULL DEFAULT 'dlib-resnet-v1'"),
    ("remembered", "ALTER TABLE remembered ADD COLUMN model TEXT NOT NULL DEFAULT 'dlib-resnet-v1'"),
)




def default_path(settings: Settings) -> Path:
    """Beside a SQLite index file (so each index has its own people), else in MEDIAINDEX_HOME."""
    index_path = settings.index_location.sqlite_file()
    if index_path is not None:
        name = "faces.db" if index_path.stem == "index" else f"{index_path.stem}.faces.db"
        return index_path.parent / name
    return Path(settings.home).expanduser() / "faces.db"


def open_database(path: Path) -> sqlite3.Connection:
    """The file at `path`, created or brought up to the current schema; autocommit (transactions are explicit)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
    except (OSError, sqlite3.Error) as e:
        raise ConfigurationError(f"cannot open the face collection {path}: {e}") from None
    db.execute("PRAGMA journal_mode=WAL")
    # as the index: with a write-ahead log, NORMAL loses nothing when the process dies, and spares an fsync
    # per indexed picture with faces
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    for table, sql in _MIGRATIONS:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if "model" not in columns:
            db.execute(sql)
    # one index serves the model filter and the clusters (sizes counted from it alone, a cluster's faces found by it);
    # older files had one index on each column, which it replaces
    db.execute("CREATE INDEX IF NOT EXISTS remembered_model_cluster ON remembered(model, cluster)")
    db.execute("DROP INDEX IF EXISTS remembered_model")
    db.execute("DROP INDEX IF EXISTS remembered_cluster")
    return db
