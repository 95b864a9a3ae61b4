"""Reading pictures: format sniffing, EXIF orientation, date, camera and GPS, colour modes."""

from __future__ import annotations

import io
from fractions import Fraction

import pytest
from PIL import Image

from mediaindex.domain.errors import CorruptMedia, EmptyFile, MediaTooLarge, UnsupportedMedia
from mediaindex.media import sniff
from mediaindex.media.picture import Picture


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 270 CW to display
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15 Pro"
    exif.get_ifd(0x8769)[0x9003] = "2024:07:14 18:03:59"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (Fraction(48), Fraction(51), Fraction(2979, 100))
    gps[3], gps[4] = "W", (Fraction(2), Fraction(17), Fraction(4005, 100))
    return encode(Image.new("RGB", (300, 100), (0, 128, 0)), "JPEG", exif=exif.tobytes())


def test_exif_lens_model():
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 12"
    exif.get_ifd(0x8769)[0xA434] = "iPhone 12 front camera 2.71mm f/2.2"
    picture = Picture.from_bytes(encode(Image.new("RGB", (8, 8)), "JPEG", exif=exif.tobytes()))
    assert picture.exif.lens == "iPhone 12 front camera 2.71mm f/2.2"
    assert Picture.from_bytes(encode(Image.new("RGB", (8, 8)), "JPEG")).exif.lens is None


def test_exif_orientation_date_camera_and_gps():
    p = Picture.from_bytes(with_exif())
    assert (p.width, p.height) == (100, 300)  # turned upright
    assert p.exif.taken_at == "2024-07-14T18:03:59"
    assert p.exif.camera == "Apple iPhone 15 Pro"
    assert p.exif.location == pytest.approx({"lat": 48.8582722, "lon": -2.2944583})


def test_camera_joins_make_and_model_when_the_model_does_not_name_the_maker():
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "NIKON CORPORATION", "NIKON D850"
    assert Picture.from_bytes(encode(Image.new("RGB", (8, 8)), "JPEG", exif=exif.tobytes())).exif.camera == "NIKON D850"
    exif[0x010F], exif[0x0110] = "FUJIFILM", "X-T5"
    assert Picture.from_bytes(encode(Image.new("RGB", (8, 8)), "JPEG", exif=exif.tobytes())).exif.camera == "FUJIFILM X-T5"


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "I;16", "LA", "1"])
def test_every_colour_mode_becomes_rgb(mode):
    fmt = "JPEG" if mode in ("L", "CMYK") else "PNG"
    im = Image.new("I;16", (20, 10), 40000) if mode == "I;16" else Image.new("RGB", (20, 10), (200, 100, 50)).convert(mode)
    p = Picture.from_bytes(encode(im, fmt))
    assert p.image.mode == "RGB" and p.image.size == (20, 10)


def test_sixteen_bit_images_are_scaled_not_clipped():
    im = Image.new("I;16", (4, 1))
    im.putdata([0, 1000, 30000, 60000])
    p = Picture.from_bytes(encode(im, "PNG"))
    values = [p.image.getpixel((x, 0))[0] for x in range(4)]
    assert values[0] == 0 and values[-1] == 255 and 0 < values[2] < 255


def test_errors_name_what_is_wrong():
    with pytest.raises(EmptyFile):
        Picture.from_bytes(b"")
    with pytest.raises(UnsupportedMedia, match="looks like mp4"):
        Picture.from_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    with pytest.raises(CorruptMedia):
        Picture.from_bytes(encode(Image.new("RGB", (50, 50)), "JPEG")[:100]).image
    with pytest.raises(MediaTooLarge, match="above the limit"):
        Picture.from_bytes(encode(Image.new("RGB", (200, 200)), "PNG"), max_pixels=10_000)


@pytest.mark.parametrize(
    "head, expected",
    [
        (b"\xff\xd8\xff\xe0", ("image", "jpeg")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ("image", "webp")),
        (b"RIFF\x00\x00\x00\x00AVI LIST", ("video", "avi")),
        (b"\x00\x00\x00\x18ftypheic", ("image", "heif")),
        (b"\x00\x00\x00\x14ftypqt  ", ("video", "quicktime")),
        (b"\x00\x00\x00\x20ftypisom", ("video", "mp4")),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm", ("video", "webm")),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", ("video", "matroska")),
        (b"%PDF-1.7", ("unknown", None)),
    ],
)
def test_sniffing_by_content(head, expected):
    assert sniff.sniff(head) == expected


def test_real_photos_decode(faces_dir):
    p = Picture.from_bytes((faces_dir / "rgba_32bit.png").read_bytes())
    assert p.image.mode == "RGB" and p.format == "png"
