"""media.encode: what is sent as it is, what is re-encoded and why, and face crops."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from mediaindex.domain.errors import UnsupportedMedia
from mediaindex.domain.model import Box
from mediaindex.media.encode import REKOGNITION, crop_face, encode_image, encode_picture, orientation, reasons_to_reencode
from mediaindex.media.picture import Picture
from tests.rekognition.conftest import noise, photo_like


def test_acceptable_files_are_sent_unchanged(faces_dir: Path, images_dir: Path) -> None:
    for path in [faces_dir / "obama_1.jpg", faces_dir / "rgba_32bit.png", images_dir / "n07747607_orange.JPEG"]:
        picture = Picture.from_bytes(path.read_bytes())
        encoded = encode_picture(picture, REKOGNITION)
        assert encoded.data is picture.data and not encoded.reencoded
        assert (encoded.width, encoded.height) == Image.open(path).size


@pytest.mark.parametrize(
    "kind, reason",
    [("webp", "WEBP is not accepted"), ("tiff", "TIFF is not accepted"), ("bmp", "BMP is not accepted"),
     ("gif", "GIF is not accepted"), ("heic", "HEIF is not accepted"), ("exif_rotated", "EXIF orientation 6"),
     ("big_png", "bytes is over"), ("tiny_png", "under 80 pixels"), ("cmyk_jpeg", "pixel mode CMYK")],
)
def test_reasons_to_re_encode(kind: str, reason: str, synthetic: dict) -> None:
    picture = Picture.from_bytes(synthetic[kind]())
    assert any(reason in r for r in reasons_to_reencode(picture, REKOGNITION))


def test_orientation_of_bytes(synthetic: dict, faces_dir: Path) -> None:
    assert orientation(synthetic["exif_rotated"]()) == 6
    assert orientation((faces_dir / "obama_1.jpg").read_bytes()) == 1
    assert orientation(b"not an image") == 1


def test_drawings_from_lossless_files_stay_png_photos_become_jpeg(faces_dir: Path) -> None:
    from PIL import ImageDraw

    drawn = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(drawn).text((20, 20), "THE WHITE HOUSE", fill="black")
    encoded = encode_image(drawn, REKOGNITION, lossless=True)
    assert encoded.format == "png" and Image.open(io.BytesIO(encoded.data)).convert("RGB").tobytes() == drawn.tobytes()
    photo = Image.open(faces_dir / "obama_1.jpg").convert("RGB")
    assert encode_image(photo, REKOGNITION, lossless=True).format == "jpeg"
    assert encode_image(drawn, REKOGNITION, lossless=False).format == "jpeg"


def test_bytes_are_fitted_by_shrinking() -> None:
    limits = REKOGNITION.__class__(max_bytes=300_000, max_side=10_000, min_side=80, formats=REKOGNITION.formats)
    encoded = encode_image(noise(1500, 1000), limits)
    assert encoded.format == "jpeg" and len(encoded.data) <= 300_000
    assert encoded.width / encoded.height == pytest.approx(1.5, rel=0.01) and encoded.width >= 300


def test_a_sliver_cannot_be_made_acceptable() -> None:
    with pytest.raises(UnsupportedMedia, match="long and thin"):
        encode_image(photo_like(9000, 40), REKOGNITION)


def test_crop_face_widens_the_box_and_keeps_it_inside() -> None:
    image = Image.new("RGB", (1000, 500))
    crop, inner = crop_face(image, Box(0.4, 0.4, 0.1, 0.2), margin=0.5, min_side=10)
    assert crop.size == (200, 200)  # 100x100 face, 50 pixels of margin each side
    assert (inner.left, inner.top, inner.width, inner.height) == pytest.approx((0.25, 0.25, 0.5, 0.5))
    edge, inner = crop_face(image, Box(0.95, 0.0, 0.05, 0.1), margin=0.5, min_side=10)
    assert edge.size == (75, 75)  # cut at the right and top borders
    assert inner.left == pytest.approx((950 - 925) / 75) and inner.top == 0.0
    small, _ = crop_face(image, Box(0.5, 0.5, 0.01, 0.02), margin=0.4, min_side=80)
    assert min(small.size) == 80
