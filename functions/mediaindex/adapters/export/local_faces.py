"""The local face collection's file (`faces.db`, tables in adapters/faces/local_store.py) read as the
FaceVectorSource port: every remembered face and every enrolled one, in row order, for copying elsewhere.

Opened read-only: copying never creates a collection, and never blocks the writers of one (WAL readers do not)."""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path
from typing import Iterator

from mediaindex.domain.errors import ConfigurationError
from mediaindex.ports import FACE, PERSON, StoredFaceVector

_PAGE = 2000
_TABLES = {FACE: "remembered", PERSON: "enrolled"}


class LocalFaceVectorFile:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    @property
    def present(self) -> bool:
        return self.path.is_file()

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            except sqlite3.Error as e:
                raise ConfigurationError(f"cannot read the face collection {self.path}: {e}") from None
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _has_model_column(self, table: str) -> bool:
        return "model" in {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}

    def count_vectors(self, kind: str) -> int:
        if not self.present:
            return 0
        return int(self.db.execute(f"SELECT count(*) FROM {_TABLES[kind]}").fetchone()[0])

    def iter_vectors(self, kind: str, after: int = 0) -> Iterator[StoredFaceVector]:
        if not self.present:
            return
        table = _TABLES[kind]
        # files from before vectors knew their model hold dlib's (local_store.py's migration says the same)
        model = "model" if self._has_model_column(table) else "'dlib-resnet-v1'"
        if kind == FACE:
            sql = (f"SELECT id, content_sha256, face_index, box, cluster, {model}, embedding FROM remembered "
                   f"WHERE id > ? ORDER BY id LIMIT {_PAGE}")
        else:
            sql = (f"SELECT rowid, face_id, person, source, created_at, {model}, embedding FROM enrolled "
                   f"WHERE rowid > ? ORDER BY rowid LIMIT {_PAGE}")
        while True:
            rows = self.db.execute(sql, (after,)).fetchall()
            for row in rows:
                yield _face(row) if kind == FACE else _person(row)
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]


def _floats(blob: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(blob) // 4}f", blob))


def _face(row: tuple) -> StoredFaceVector:
    position, sha, index, box, cluster, model, blob = row
    return StoredFaceVector(
        kind=FACE, id=f"{FACE}:{model}:{sha}:{index}", model=model, embedding=_floats(blob), position=position,
        fields={"content_sha256": sha, "face_index": index, "box": json.loads(box), "cluster": cluster})


def _person(row: tuple) -> StoredFaceVector:
    position, face_id, person, source, created_at, model, blob = row
    return StoredFaceVector(
        kind=PERSON, id=f"{PERSON}:{face_id}", model=model, embedding=_floats(blob), position=position,
        fields={"person": person, "source": source, "created_at": created_at})
