"""A small real library for the web tests: a few photos of ../shared/data and the video, copied into a temporary
folder and analysed once per session by the real pipeline with the local models; Barack Obama enrolled, the two
Guido van Rossum photos left as an unnamed cluster. Servers run on free ports in threads."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from mediaindex.adapters.storage.folder import FolderStorage, ref_for
from mediaindex.bootstrap import build_app
from mediaindex.config import Settings
from mediaindex.domain.document import document_id
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.media.picture import Picture
from tests.web.helpers import RunningServer

PHOTOS = {
    "faces": ["obama_1.jpg", "obama_2.jpg", "biden_1.jpg", "two_people_obama_biden.jpg", "guido_van_rossum_1.jpg",
              "guido_van_rossum_2.jpg"],
    "images": ["n02110185_Siberian_husky.JPEG", "n02097474_Tibetan_terrier.JPEG", "n01440764_tench.JPEG",
               "n07747607_orange.JPEG"],
}


@dataclass
class Library:
    home: Path
    folder: Path
    settings: Settings
    index: Any

    def doc_id(self, name: str) -> str:
        return document_id("", str(self.folder / name))

    def doc(self, name: str) -> dict[str, Any]:
        found = self.index.get(self.doc_id(name))
        assert found is not None, name
        return found.doc


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory, shared_data: Path, video_path: Path) -> Library:
    home = tmp_path_factory.mktemp("web-home")
    folder = tmp_path_factory.mktemp("web-photos")
    for sub, names in PHOTOS.items():
        for name in names:
            shutil.copyfile(shared_data / sub / name, folder / name)
    shutil.copyfile(video_path, folder / video_path.name)
    settings = Settings(home=home, features=("labels", "faces", "people"), video_interval=2.0)
    app = build_app(settings, storage=FolderStorage())
    pipeline, people = app.pipeline, app.people
    # enrolled before indexing, so the video's timeline places Lin-Manuel Miranda in time
    for name, photo in (("Barack Obama", shared_data / "faces" / "obama_1.jpg"),
                        ("Lin-Manuel Miranda", shared_data / "faces" / "lin_manuel_miranda_1.png")):
        people.enroll(name, Picture.from_bytes(photo.read_bytes()), source=str(ref_for(photo)))
    for path in sorted(folder.iterdir()):
        outcome = pipeline.handle(StorageEvent(CREATED, ref_for(path)))
        assert outcome.action == "indexed", outcome
    pipeline.index.refresh()
    return Library(home, folder, settings, pipeline.index)


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start a server on an API; every server started is stopped after the test."""
    running: list[RunningServer] = []

    def start(api: Any) -> RunningServer:
        running.append(RunningServer(api))
        return running[-1]

    yield start
    for r in running:
        r.close()
