"""12 MP phone photos are decoded once, at the size the analysis needs (JPEG DCT scaling), and analysed as well as
when decoded in full: the same labels first, the same faces in the same places. Made from real photos of
../shared/data scaled up to 4032 px, as a phone writes them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from mediaindex.adapters.analysis.local import LocalAnalyzer
from mediaindex.adapters.analysis.local.analyzer import WORKING_SIDE, WorkingCopy
from mediaindex.config import Settings
from mediaindex.domain.errors import CorruptMedia
from mediaindex.media.picture import Picture

PHONE_SIDE = 4032


def phone_jpeg(path: Path, orientation: int | None = None, quality: int = 90) -> bytes:
    image = Image.open(path).convert("RGB")
    scale = PHONE_SIDE / max(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture(scope="module")
def husky(images_dir: Path) -> bytes:
    return phone_jpeg(images_dir / "n02110185_Siberian_husky.JPEG")


def test_a_12_mp_jpeg_is_decoded_at_half_scale_and_keeps_its_size(husky):
    picture = Picture.from_bytes(husky)
    working = picture.working_image(WORKING_SIDE)
    assert working.size == (2016, 1508)  # 1/2 scale (the photo is 4032x3016): the smallest that keeps 1280 px
    assert (picture.width, picture.height) == (4032, 3016)  # the document records the original
    assert "image" not in picture.__dict__  # the full-size pixels were never decoded
    assert picture.working_image(WORKING_SIDE) is working  # once


def test_the_orientation_turns_the_working_copy_and_the_recorded_size(images_dir):
    picture = Picture.from_bytes(phone_jpeg(images_dir / "n02110185_Siberian_husky.JPEG", orientation=6))
    assert (picture.width, picture.height) == (3016, 4032)
    assert picture.working_image(WORKING_SIDE).size == (1508, 2016)
    assert picture.image.size == (3016, 4032)


def test_small_photos_and_other_formats_are_decoded_whole(images_dir, husky):
    small = Picture.from_bytes((images_dir / "n02110185_Siberian_husky.JPEG").read_bytes())
    assert small.working_image(WORKING_SIDE) is small.image
    png = io.BytesIO()
    Image.open(io.BytesIO(husky)).save(png, "PNG")
    assert Picture.from_bytes(png.getvalue()).working_image(WORKING_SIDE).size == (4032, 3016)


def test_a_truncated_phone_photo_is_corrupt_at_any_scale(husky):
    with pytest.raises(CorruptMedia):
        Picture.from_bytes(husky[: len(husky) // 2]).working_image(WORKING_SIDE)


@pytest.mark.models
def test_the_analysis_of_a_phone_photo_is_as_good_as_from_full_size(images_dir, faces_dir):
    analyzer = LocalAnalyzer(Settings(features=("labels", "faces"), models_dir=None))
    analyzer.load()

    def both(data: bytes):
        scaled = analyzer.analyze(Picture.from_bytes(data))
        whole = Picture.from_bytes(data)
        whole.image  # decoded in full first: working_image then gives it, as before DCT scaling
        return scaled, analyzer.analyze(whole)

    for name in ("n02110185_Siberian_husky.JPEG", "n01440764_tench.JPEG", "n07747607_orange.JPEG"):
        scaled, whole = both(phone_jpeg(images_dir / name))
        assert scaled.labels[0].name == whole.labels[0].name, name
    for name in ("two_people_obama_biden.jpg", "obama_1.jpg", "guido_van_rossum_1.jpg"):
        scaled, whole = both(phone_jpeg(faces_dir / name))
        assert len(scaled.faces) == len(whole.faces) >= 1, name
        for a, b in zip(sorted(scaled.faces, key=lambda f: f.box.left), sorted(whole.faces, key=lambda f: f.box.left)):
            assert abs(a.box.left - b.box.left) < 0.01 and abs(a.box.width - b.box.width) < 0.01, name


def test_the_models_share_one_copy_of_at_most_1280_px(husky, images_dir):
    copy = WorkingCopy.of(Picture.from_bytes(husky).working_image(WORKING_SIDE))
    assert max(copy.fine.size) == 2016 and max(copy.image.size) == WORKING_SIDE  # the DCT-scaled decode, then 1280
    assert copy.pixels.shape == (copy.image.height, copy.image.width, 3) and copy.pixels.flags.c_contiguous
    assert copy.fine_pixels.shape == (copy.fine.height, copy.fine.width, 3)
    assert copy.scale == pytest.approx(WORKING_SIDE / 2016)
    # a photo within 1280 px is one copy
    small = WorkingCopy.of(Picture.from_bytes((images_dir / "n02110185_Siberian_husky.JPEG").read_bytes()).image)
    assert small.image is small.fine and small.pixels is small.fine_pixels and small.scale == 1.0
    # a big picture without DCT scaling (a PNG) is averaged down, not sampled
    png = io.BytesIO()
    Image.new("RGB", (4000, 3000), (200, 10, 10)).save(png, "PNG")
    big = WorkingCopy.of(Picture.from_bytes(png.getvalue()).working_image(WORKING_SIDE))
    assert big.image.size == (1280, 960) and big.pixels[0, 0].tolist() == [200, 10, 10]


@pytest.mark.models
def test_faces_found_on_the_shared_copy_are_placed_on_the_finer_one(faces_dir):
    analyzer = LocalAnalyzer(Settings(features=("people",), models_dir=None))
    copy = WorkingCopy.of(Picture.from_bytes(phone_jpeg(faces_dir / "two_people_obama_biden.jpg"))
                          .working_image(WORKING_SIDE))
    assert copy.fine is not copy.image
    found = analyzer._detect(copy)
    # the detector on the finer copy itself (it scales it to 1280 px by its own means)
    direct = sorted(analyzer.model("face_detector").detect(copy.fine_pixels), key=lambda f: f.left)
    assert len(found) == len(direct) == 2
    for a, b in zip(found, direct):
        assert abs(a.left - b.left) < 4 and abs(a.right - b.right) < 4 and abs(a.top - b.top) < 4
        assert a.points is not None and b.points is not None and abs(a.points - b.points).max() < 4
    assert all(f.right <= copy.fine.width and f.bottom <= copy.fine.height for f in found)
