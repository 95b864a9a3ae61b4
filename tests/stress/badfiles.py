"""A corpus of awkward files, generated on the spot: what real archives contain and what breaks naive pipelines.

Each entry says what must happen: "indexed" (a valid picture, however odd), "failed:<code>" (a bad file: a
`failed` document with that error code), or "any" (damage that a decoder may or may not tolerate: either outcome
is fine, a crash is not).
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image


@dataclass
class Specimen:
    name: str
    data: bytes
    expect: str


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size, with one tiny compressed row stream: decoders must refuse before allocating."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _bomb_png(side: int) -> bytes:
    """A real, fully valid PNG of side x side black pixels: a few hundred KB that inflate to side^2 * 3 bytes."""
    row = b"\x00" + b"\x00" * side * 3
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _exif_rotated(base: Image.Image) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D"
    return _save(base, "JPEG", exif=exif.tobytes())


def build(shared_data: Path, seed: int = 7) -> list[Specimen]:
    rng = random.Random(seed)
    photos = [
        (shared_data / "faces" / "obama_1.jpg").read_bytes(),
        (shared_data / "images" / "n02110185_Siberian_husky.JPEG").read_bytes(),
        (shared_data / "images" / "n07747607_orange.JPEG").read_bytes(),
    ]
    base = Image.open(io.BytesIO(photos[1])).convert("RGB")
    small = base.resize((160, 120))
    png = _save(small, "PNG")
    out: list[Specimen] = []

    # -- valid but unusual: all must be indexed -----------------------------------------------------------------
    out += [
        Specimen("plain.jpg", photos[0], "indexed"),
        Specimen("cmyk.jpg", _save(small.convert("CMYK"), "JPEG"), "indexed"),
        Specimen("gray.png", _save(small.convert("L"), "PNG"), "indexed"),
        Specimen("sixteen-bit.png", _save(small.convert("I").point(lambda v: v * 256).convert("I;16"), "PNG"), "indexed"),
        Specimen("palette-transparent.png", _save(small.convert("P"), "PNG", transparency=0), "indexed"),
        Specimen("rgba.png", _save(small.convert("RGBA"), "PNG"), "indexed"),
        Specimen("rgba_32bit.png", (shared_data / "faces" / "rgba_32bit.png").read_bytes(), "indexed"),
        Specimen("animated.gif", _save(small.convert("P"), "GIF", save_all=True, append_images=[small.rotate(90).convert("P")] * 3, duration=100, loop=0), "indexed"),
        Specimen("exif-rotated.jpg", _exif_rotated(small), "indexed"),
        Specimen("picture.webp", _save(small, "WEBP"), "indexed"),
        Specimen("picture.tiff", _save(small, "TIFF"), "indexed"),
        Specimen("picture.bmp", _save(small, "BMP"), "indexed"),
        Specimen("one-pixel.png", _save(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG"), "indexed"),
        Specimen("thin-strip.png", _save(Image.new("RGB", (4000, 3), (0, 0, 255)), "PNG"), "indexed"),
        Specimen("png-named.jpg", png, "indexed"),
        Specimen("jpeg-named.txt", photos[2], "indexed"),
        Specimen("no-extension", photos[2], "indexed"),
        Specimen("UPPER.JPEG", photos[1], "indexed"),
        Specimen("spaces and (parens) & ampersand.jpg", photos[2], "indexed"),
        Specimen("plus+sign%percent#hash.jpg", photos[2], "indexed"),
        Specimen("ünïcödé-東京-фото.jpg", photos[0], "indexed"),
        Specimen("emoji-📷-🐕.jpg", photos[1], "indexed"),
        Specimen("line\nbreak.jpg", photos[2], "indexed"),
        Specimen("x" * 200 + ".jpg", photos[2], "indexed"),
        Specimen("progressive.jpg", _save(small, "JPEG", progressive=True, quality=70), "indexed"),
    ]
    # -- bad files: each must get a failed document with a reason ----------------------------------------------
    out += [
        Specimen("empty.jpg", b"", "failed:empty_file"),
        Specimen("text.jpg", b"hello, I am not a picture\n" * 20, "failed:unsupported"),
        Specimen("page.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "failed:unsupported"),
        Specimen("page.html", b"<!doctype html><html><body><img src=x></body></html>", "failed:unsupported"),
        Specimen("random.bin", bytes(rng.getrandbits(8) for _ in range(4096)), "failed:unsupported"),
        Specimen("zeros.png", b"\x00" * 1000, "failed:unsupported"),
        Specimen("bomb-13000x13000.png", _bomb_png(13000), "failed:too_large"),
        Specimen("header-claims-100000x100000.png", _png_header_only(100000, 100000), "failed:too_large"),
        Specimen("header-claims-zero.png", _png_header_only(0, 0), "failed:corrupt"),
        Specimen("jpeg-magic-only.jpg", b"\xff\xd8\xff", "failed:corrupt"),
        Specimen("png-magic-only.png", b"\x89PNG\r\n\x1a\n", "failed:corrupt"),
        Specimen("gif-magic-only.gif", b"GIF89a", "failed:corrupt"),
    ]
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF  # inside the IHDR's CRC
    out.append(Specimen("bad-crc.png", bytes(bad_crc), "failed:corrupt"))
    # truncations: a photo cut anywhere before its end is a corrupt file
    for i, photo in enumerate(photos + [png]):
        for fraction in (0.02, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.97):
            cut = max(16, int(len(photo) * fraction))
            ext = "png" if photo is png else "jpg"
            out.append(Specimen(f"truncated-{i}-{int(fraction * 100):02d}.{ext}", photo[:cut], "failed:corrupt"))
    # bit flips: decoders tolerate some damage; either outcome is fine, a crash is not
    for i in range(40):
        photo = bytearray(photos[i % len(photos)])
        for _ in range(rng.randint(1, 30)):
            pos = rng.randrange(2, len(photo))
            photo[pos] = rng.getrandbits(8)
        out.append(Specimen(f"bitflip-{i:02d}.jpg", bytes(photo), "any"))
    return out
