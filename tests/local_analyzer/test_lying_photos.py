"""Photos whose header promises what the data does not hold (issue 26, bad input): each ends in a clear failure
(CorruptMedia: the document is `failed`) or a result, with bounded memory where memory is what the lie costs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mediaindex.adapters.analysis.local import LocalAnalyzer
from mediaindex.config import Settings
from mediaindex.domain.errors import CorruptMedia
from mediaindex.media.picture import Picture

ROOT = Path(__file__).resolve().parents[2]


def _jpeg(image: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def _declaring(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0) saying width x height, the data left as it is."""
    raw = bytearray(data)
    at = raw.index(b"\xff\xc0")
    raw[at + 5: at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(raw)


def _peak_mb(data: bytes, how: str) -> dict:
    """Decode in a process of its own ("working": the working copy at 1280 px; "full": every pixel): its peak
    resident memory over what it had before decoding, and what came out."""
    code = f"""
import json, re, sys
from mediaindex.media.picture import Picture

def peak():  # this process's own high-water mark (ru_maxrss would carry the parent's over exec)
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))

data = sys.stdin.buffer.read()
before = peak()
picture = Picture.from_bytes(data)
try:
    image = picture.working_image(1280) if {how!r} == "working" else picture.image
    out = list(image.size)
except Exception as e:
    out = type(e).__name__
print(json.dumps({{"grew_mb": (peak() - before) / 1024, "out": out}}))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions")}
    run = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, env=env, check=True)
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def husky_12mp(images_dir: Path) -> Image.Image:
    return Image.open(images_dir / "n02110185_Siberian_husky.JPEG").convert("RGB").resize((4032, 3024))


def test_a_progressive_jpeg_with_missing_scans_is_corrupt(husky_12mp):
    data = _jpeg(husky_12mp, quality=90, progressive=True)
    picture = Picture.from_bytes(data[: len(data) // 5])  # the first scans only: the header is all there
    assert picture.size == (4032, 3024)
    with pytest.raises(CorruptMedia):
        picture.working_image(1280)


def test_a_header_declaring_144_mp_over_a_tiny_image_costs_an_eighth_of_its_memory():
    """12000 x 12000 declared (under the 150 MP limit), 700 bytes of data: a full decode allocates 432 MB for the
    lie; the working copy is decoded at 1/8 scale (1500 x 1500, 7 MB), so the lie costs next to nothing."""
    data = _declaring(_jpeg(Image.new("RGB", (64, 64), "blue")), 12000, 12000)
    assert Picture.from_bytes(data).size == (12000, 12000)
    working, full = _peak_mb(data, "working"), _peak_mb(data, "full")
    assert working["out"] == [1500, 1500]
    assert full["grew_mb"] > 400  # what the lie costs when believed
    assert working["grew_mb"] < full["grew_mb"] / 8


@pytest.fixture(scope="module")
def analyzer() -> LocalAnalyzer:
    analyzer = LocalAnalyzer(Settings())
    analyzer.load()
    return analyzer


@pytest.mark.parametrize("size, fmt", [((1, 65000), "JPEG"), ((1, 100000), "PNG"), ((100000, 1), "PNG")])
def test_a_one_pixel_strip_is_analysed_to_an_end(analyzer, size, fmt):
    """A 1-pixel-wide strip as long as the format allows: a result (no faces can be in it), not a model error."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    picture = Picture.from_bytes(out.getvalue())
    analysis = analyzer.analyze(picture)
    assert picture.size == size
    assert analysis.faces == [] and isinstance(analysis.labels, list)


def test_a_heic_grid_of_900_tiles_decodes_in_bounded_memory(images_dir):
    """900 tiles of 64 px (pillow-heif writes at most 1,000 items in a file, libheif's limits refuse more on
    reading): decoded to the whole picture, its memory about the picture's own 11 MB, not per tile."""
    import pillow_heif

    from mediaindex.media.picture import register_heif

    register_heif()
    image = Image.open(images_dir / "n02110185_Siberian_husky.JPEG").convert("RGB").resize((1920, 1920))
    out = io.BytesIO()
    previous = pillow_heif.options.GRID_TILE_SIZE
    pillow_heif.options.GRID_TILE_SIZE = 64
    try:
        image.save(out, "HEIF", quality=50)
    finally:
        pillow_heif.options.GRID_TILE_SIZE = previous
    data = out.getvalue()
    assert data.count(b"hvc1") >= 900  # one item per tile
    decoded = _peak_mb(data, "working")
    assert decoded["out"] == [1920, 1920]
    assert decoded["grew_mb"] < 10 * (1920 * 1920 * 3) / 2**20
