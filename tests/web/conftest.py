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


def indexed_library(app: Any, home: Path, folder: Path, settings: Settings) -> Library:
    """Every file of `folder` indexed by the app's real pipeline (each must be indexed), as a Library."""
    for path in sorted(folder.iterdir()):
        outcome = app.pipeline.handle(StorageEvent(CREATED, ref_for(path)))
        assert outcome.action == "indexed", outcome
    app.pipeline.index.refresh()
    return Library(home, folder, settings, app.pipeline.index)


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
    people = app.people
    # enrolled before indexing, so the video's timeline places Lin-Manuel Miranda in time
    for name, photo in (("Barack Obama", shared_data / "faces" / "obama_1.jpg"),
                        ("Lin-Manuel Miranda", shared_data / "faces" / "lin_manuel_miranda_1.png")):
        people.enroll(name, Picture.from_bytes(photo.read_bytes()), source=str(ref_for(photo)))
    return indexed_library(app, home, folder, settings)


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


# ---- a phone's library: dates taken, GPS positions, a camera, a screenshot ------------------------------------------
# (file, taken, position or None): newest first. Four cities in three countries, a few photos without a position.
PARIS, LYON, TOKYO, KYOTO, NEW_YORK = (48.8566, 2.3522), (45.7640, 4.8357), (35.6762, 139.6503), (35.0116, 135.7681), \
    (40.7128, -74.0060)
PHONE_PHOTOS = [
    ("n02110185_Siberian_husky.JPEG", "2025:06:14 18:30:00", PARIS),
    ("n02097474_Tibetan_terrier.JPEG", "2025:06:14 10:05:00", PARIS),
    ("n07747607_orange.JPEG", "2025:06:14 09:00:00", PARIS),
    ("n02091635_otterhound.JPEG", "2025:06:12 16:00:00", LYON),
    ("n03297495_espresso_maker.JPEG", "2025:06:12 08:15:00", LYON),
    ("n02793495_barn.JPEG", "2025:06:02 12:00:00", None),
    ("n09332890_lakeside.JPEG", "2025:03:21 15:45:00", KYOTO),
    ("n04562935_water_tower.JPEG", "2025:03:20 11:00:00", TOKYO),
    ("n03160309_dam.JPEG", "2025:03:19 09:30:00", TOKYO),
    ("n02488702_colobus.JPEG", "2025:03:19 09:10:00", TOKYO),
    ("n01860187_black_swan.JPEG", "2024:12:24 17:00:00", NEW_YORK),
    ("n02077923_sea_lion.JPEG", "2024:12:23 13:00:00", NEW_YORK),
    ("n04399382_teddy.JPEG", "2024:12:23 09:00:00", NEW_YORK),
    ("n02105162_malinois.JPEG", "2024:08:05 19:20:00", LYON),
    ("n01440764_tench.JPEG", "2024:08:04 07:00:00", None),
    ("n02417914_ibex.JPEG", "2023:07:30 14:00:00", None),
    ("n03662601_lifeboat.JPEG", "2023:07:29 10:00:00", PARIS),
]


def _dms(value: float) -> tuple[Any, Any, Any]:
    from fractions import Fraction

    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction(round(((value - degrees) * 60 - minutes) * 60 * 10_000), 10_000)
    return Fraction(degrees), Fraction(minutes), seconds


def phone_jpeg(source: Path, taken: str, position: tuple[float, float] | None) -> bytes:
    """The picture as a phone saves it: its camera, the date taken and, when given, where (EXIF GPS)."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 13"
    exif.get_ifd(0x8769)[0x9003] = taken
    if position is not None:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2] = ("N" if position[0] >= 0 else "S"), _dms(position[0])
        gps[3], gps[4] = ("E" if position[1] >= 0 else "W"), _dms(position[1])
    buf = io.BytesIO()
    with Image.open(source) as im:
        im.convert("RGB").save(buf, "JPEG", quality=85, exif=exif.tobytes())
    return buf.getvalue()


@pytest.fixture(scope="session")
def phone_library(tmp_path_factory: pytest.TempPathFactory, shared_data: Path, video_path: Path) -> Library:
    """17 photos with dates and most with places, a screenshot without either, and the video: labels only (no
    faces), so it is analysed in seconds."""
    import io

    from PIL import Image, ImageDraw

    home = tmp_path_factory.mktemp("phone-home")
    folder = tmp_path_factory.mktemp("phone-photos")
    for name, taken, position in PHONE_PHOTOS:
        (folder / name.replace(".JPEG", ".jpg")).write_bytes(phone_jpeg(shared_data / "images" / name, taken, position))
    shot = Image.new("RGB", (1170, 2532), (245, 245, 245))
    ImageDraw.Draw(shot).rectangle((80, 200, 1090, 420), fill=(30, 30, 30))
    buf = io.BytesIO()
    shot.save(buf, "PNG")
    (folder / "Screenshot 2025-06-03 at 10.00.00.png").write_bytes(buf.getvalue())
    shutil.copyfile(video_path, folder / video_path.name)
    settings = Settings(home=home, features=("labels",), video_interval=2.0)
    app = build_app(settings, storage=FolderStorage())
    return indexed_library(app, home, folder, settings)


# ---- a library with copies: edited with Pillow (flipped, half size) beside unrelated photos -------------------------
COPIES = {"husky": "n02110185_Siberian_husky.JPEG", "orange": "n07747607_orange.JPEG"}
UNRELATED = ["n01440764_tench.JPEG", "n02793495_barn.JPEG"]


def build_copies_library(home: Path, folder: Path, shared_data: Path) -> Library:
    """The husky photo with a flipped copy (saved at a lower quality: fewer bytes, the same pixels) and a copy at half
    size, the orange with a half-size copy, and two unrelated photos; indexed by the real pipeline (local models,
    labels: the look vectors come from the label model)."""
    from PIL import Image, ImageOps

    for name in [*COPIES.values(), *UNRELATED]:
        shutil.copyfile(shared_data / "images" / name, folder / name)
    for short, name in COPIES.items():
        with Image.open(shared_data / "images" / name) as im:
            im = im.convert("RGB")
            im.resize((im.width // 2, im.height // 2)).save(folder / f"{short}_half.jpg", quality=85)
            if short == "husky":
                ImageOps.mirror(im).save(folder / f"{short}_flipped.jpg", quality=50)
    settings = Settings(home=home, features=("labels",))
    app = build_app(settings, storage=FolderStorage())
    return indexed_library(app, home, folder, settings)


@pytest.fixture
def copies_library(tmp_path: Path, shared_data: Path) -> Library:
    """A fresh library with copies for a test that moves files (each test its own)."""
    (tmp_path / "home").mkdir()
    (tmp_path / "photos").mkdir()
    return build_copies_library(tmp_path / "home", tmp_path / "photos", shared_data)


@pytest.fixture(scope="module")
def copies_read_only(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Library:
    """The library with copies, for tests that only read it."""
    return build_copies_library(tmp_path_factory.mktemp("copies-home"), tmp_path_factory.mktemp("copies-photos"),
                                shared_data)
