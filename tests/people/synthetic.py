"""The synthetic library the model-free people tests share: tiny one-colour pictures whose colour says who is in
them (COLOURS), an analyzer that reads that colour back as faces with synthetic vectors, and the set-up of a
library on the real SQLite index and local face collection."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from mediaindex.adapters.faces.local import LocalFaceCollection
from mediaindex.adapters.storage.folder import FolderStorage, ref_for
from mediaindex.config import Settings
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.domain.model import Analysis, Box, Face
from mediaindex.services.indexing import Pipeline
from mediaindex.services.people import People
from tests.people.vectors import person, photo_of

ADA, BOB = person(1), person(2)
COLOURS = {(250, 0, 0): [("ada", 1)], (0, 250, 0): [("bob", 1)], (0, 0, 250): [("ada", 2), ("bob", 2)],
           (250, 250, 0): [("ada", 3)], (9, 9, 9): []}


class ColourAnalyzer:
    """Reads who is in a picture from its colour (the synthetic library's ground truth)."""

    name = "colour"
    face_model = None

    def __init__(self) -> None:
        self.calls = 0

    def analyze(self, picture) -> Analysis:
        self.calls += 1
        faces = []
        for i, (who, seed) in enumerate(COLOURS[picture.image.getpixel((0, 0))]):
            faces.append(Face(Box(0.1 + 0.5 * i, 0.1, 0.3, 0.3), 99.0, embedding=photo_of(ADA if who == "ada" else BOB, seed)))
        return Analysis(analyzer=self.name, faces=faces)


def png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buf, "PNG")
    return buf.getvalue()


def write_colour_library(folder: Path) -> Path:
    """folder/media/<n>.png, one per colour of COLOURS; the media folder."""
    media = folder / "media"
    media.mkdir()
    for n, colour in enumerate(COLOURS):
        (media / f"{n}.png").write_bytes(png(colour))
    return media


def sqlite_index(folder: Path) -> Any:
    from mediaindex.adapters.index.sqlite import SqliteIndex

    index = SqliteIndex(str(folder / "index.db"), "media")
    index.ensure_ready()
    return index


def local_people(settings: Settings, index: Any, analyzer: Any = None,
                 collection: LocalFaceCollection | None = None) -> People:
    """People on folder storage and the local face collection, which is its own face memory (as bootstrap wires
    it); the analyzer (default ColourAnalyzer) gives the faces of enrolment photos."""
    collection = collection if collection is not None else LocalFaceCollection(settings)
    pipeline = Pipeline(storage=FolderStorage(), analyzer=analyzer or ColourAnalyzer(), index=index, faces=collection)
    return People(settings=settings, pipeline=pipeline, memory=collection)


def index_folder(pipeline: Pipeline, media: Path) -> None:
    for path in sorted(media.iterdir()):
        pipeline.handle(StorageEvent(CREATED, ref_for(path)))
