"""A small library for the people tests: a real SQLite index (or OpenSearch on osmem), the local face collection,
folder storage on the real photos of ../shared/data/faces, and an analyzer that counts what it analyses."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediaindex.adapters.faces.local import LocalFaceCollection
from mediaindex.adapters.storage.folder import FolderStorage, ref_for
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.media.picture import Picture
from mediaindex.services.indexing import Pipeline
from mediaindex.services.people import People

OBAMA_FILES = ("obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "obama_partial_face.jpg", "rgba_32bit.png",
               "two_people_obama_biden.jpg")


class CountingAnalyzer:
    """The real analyzer, run once per picture for the whole module (the models are slow to run); every call is
    still recorded, so a test can tell that re-matching analysed nothing."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.name = real.name
        self.face_model = real.face_model
        self.analysed: list[str] = []
        self._memo: dict[str, Any] = {}

    def analyze(self, picture: Picture) -> Any:
        sha = hashlib.sha256(picture.data).hexdigest()
        self.analysed.append(sha)
        if sha not in self._memo:
            self._memo[sha] = self.real.analyze(picture)
        return copy.deepcopy(self._memo[sha])


def sha_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def picture(path: Path) -> Picture:
    return Picture.from_bytes(path.read_bytes())


@dataclass
class Library:
    faces_dir: Path
    pipeline: Pipeline
    people: People
    collection: LocalFaceCollection

    @property
    def index(self) -> Any:
        return self.pipeline.index

    def index_all(self) -> None:
        for path in sorted(self.faces_dir.iterdir()):
            outcome = self.pipeline.handle(StorageEvent(CREATED, ref_for(path)))
            assert outcome.action == "indexed", outcome
        self.index.refresh()

    def doc(self, name: str) -> dict[str, Any]:
        found = self.index.get(docs.document_id("", str(self.faces_dir / name)))
        assert found is not None, name
        return found.doc

    def people_of(self, name: str) -> list[str]:
        return self.doc(name)["people"]

    def people_by_file(self) -> dict[str, list[str]]:
        return {p.name: self.people_of(p.name) for p in sorted(self.faces_dir.iterdir())}


def make_library(tmp_path: Path, faces_dir: Path, analyzer: Any, index: Any = None, threshold: float = 80.0) -> Library:
    settings = Settings(home=tmp_path, features=("faces", "people"), face_match_threshold=threshold)
    if index is None:
        from mediaindex.adapters.index.sqlite import SqliteIndex

        index = SqliteIndex(str(tmp_path / "index.db"), "media")
    index.ensure_ready()
    collection = LocalFaceCollection(settings)
    pipeline = Pipeline(storage=FolderStorage(), analyzer=analyzer, index=index, faces=collection)
    # the local collection is its own face memory, as bootstrap wires it
    return Library(faces_dir, pipeline, People(settings=settings, pipeline=pipeline, memory=collection), collection)
