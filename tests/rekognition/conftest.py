"""Fixtures for the Rekognition adapters: a real boto3 client (adaptive retries) whose requests a fake service
answers, retries without real waiting, and pictures in the formats and sizes Rekognition refuses."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from PIL import Image

from mediaindex.adapters.analysis.rekognition import make_client
from mediaindex.config import Settings
from mediaindex.media.picture import Picture
from tests.rekognition.fake_service import FakeRekognition


class FastClock:
    """botocore's adaptive rate limiter clock, running a thousand times faster than the wall clock, so that a
    throttled client's waits for send tokens (see FastCondition) pass in milliseconds."""

    def __init__(self) -> None:
        self.start = time.time()

    def sleep(self, amount: float) -> None:
        time.sleep(amount / 1000.0)

    def current_time(self) -> float:
        return self.start + (time.time() - self.start) * 1000.0


class FastCondition(threading.Condition):
    """The token bucket waits on a condition for as long as its clock says; with FastClock, a thousandth of it."""

    def wait(self, timeout: float | None = None) -> bool:
        return super().wait(None if timeout is None else timeout / 1000.0)


class _Threading:
    Condition = FastCondition

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff delays botocore asked for, recorded instead of slept."""
    import botocore.endpoint
    import botocore.retries.bucket

    sleeps: list[float] = []

    class _Time:
        @staticmethod
        def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

    monkeypatch.setattr(botocore.endpoint, "time", _Time())
    monkeypatch.setattr(botocore.retries.bucket, "Clock", FastClock)
    monkeypatch.setattr(botocore.retries.bucket, "threading", _Threading())
    return sleeps


@pytest.fixture
def settings() -> Settings:
    return Settings(analyzer="rekognition", aws_region="us-east-1", collection_id="mediaindex-test-faces",
                    features=("labels", "faces", "people"), max_labels=50, min_confidence=55.0)


@pytest.fixture
def fake(settings: Settings, retry_sleeps: list[float]) -> FakeRekognition:
    return FakeRekognition(make_client(settings))


def picture_of(path: Path) -> Picture:
    return Picture.from_bytes(path.read_bytes())


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def photo_like(width: int, height: int, seed: int = 1) -> Image.Image:
    """Smooth colour gradients with a little noise: compresses like a photo, cheap to make at any size."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, height // 64), max(2, width // 64), 3), dtype=np.uint8)
    image = Image.fromarray(small, "RGB").resize((width, height), Image.Resampling.BILINEAR)
    return image


def noise(width: int, height: int, seed: int = 2) -> Image.Image:
    """Incompressible pixels: the largest file a size can give."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8), "RGB")


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference (0-255) of two images, both seen at a thumbnail's size."""
    size = (256, max(1, round(256 * a.height / a.width)))
    x = np.asarray(a.convert("RGB").resize(size, Image.Resampling.BILINEAR), dtype=np.float64)
    y = np.asarray(b.convert("RGB").resize(size, Image.Resampling.BILINEAR), dtype=np.float64)
    return float(np.abs(x - y).mean())


@pytest.fixture(scope="session")
def synthetic(faces_dir: Path) -> dict[str, Callable[[], bytes]]:
    """Builders of files Rekognition would refuse as they are, each from a real photo where the size allows."""
    base = Image.open(faces_dir / "obama_1.jpg").convert("RGB")

    def exif_rotated() -> bytes:
        # Stored on its side, EXIF orientation 6 ("rotate 90 clockwise to view"), as phones write portraits.
        stored = base.transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6
        return encode(stored, "JPEG", quality=92, exif=exif.tobytes())

    def animated_gif() -> bytes:
        frames = [base.quantize(colors=128), base.rotate(180).quantize(colors=128)]
        return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)

    def heic() -> bytes:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        return encode(base.reduce(2), "HEIF", quality=80)  # x265 is slow: a smaller photo does

    return {
        "webp": lambda: encode(base, "WEBP", quality=85),
        "tiff": lambda: encode(base, "TIFF", compression="tiff_lzw"),
        "bmp": lambda: encode(base, "BMP"),
        "gif": animated_gif,
        "heic": heic,
        "exif_rotated": exif_rotated,
        "huge_jpeg": lambda: encode(photo_like(12000, 9000), "JPEG", quality=85),
        "big_png": lambda: encode(noise(1400, 1400), "PNG"),
        "tiny_png": lambda: encode(base.resize((60, 75)), "PNG"),
        "cmyk_jpeg": lambda: encode(base.convert("CMYK"), "JPEG", quality=90),
    }
