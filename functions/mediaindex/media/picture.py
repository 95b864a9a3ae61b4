"""A still picture read once: its bytes, the decoded upright RGB image, and what its EXIF says.

Both analyzers start from a `Picture`: Rekognition re-encodes `picture.image` when the original bytes are in a format
or size it refuses; the local models take `picture.image` as an array. Decoding is lazy and done once.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from mediaindex.domain.document import GeoPoint
from mediaindex.domain.errors import CorruptMedia, EmptyFile, MediaTooLarge, UnsupportedMedia
from mediaindex.media import sniff

# Above this many pixels a file is refused rather than decoded: a "decompression bomb" (a tiny PNG that inflates to
# gigabytes) must not take the process down. 150 MP covers any camera (and stays under Pillow's own hard limit of
# about 179 MP); override per deployment with MEDIAINDEX_MAX_PIXELS.
DEFAULT_MAX_PIXELS = 150_000_000

_heif_registered = False


def register_heif() -> None:
    """Teach Pillow HEIC/HEIF when pillow-heif is installed (phones save photos as HEIC)."""
    global _heif_registered
    if _heif_registered:
        return
    _heif_registered = True
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return
    register_heif_opener()


@dataclass
class Exif:
    taken_at: str | None = None
    camera: str | None = None
    location: GeoPoint | None = None  # {"lat": .., "lon": ..}, an OpenSearch geo point
    lens: str | None = None  # LensModel: "iPhone 12 front camera 2.71mm f/2.2" tells a selfie (domain/kinds.py)


@dataclass
class Picture:
    data: bytes
    format: str  # as sniffed: jpeg, png, gif, webp, bmp, tiff, heif
    max_pixels: int = DEFAULT_MAX_PIXELS
    _opened: Image.Image | None = field(default=None, repr=False)
    video_frame: bool = False  # a frame of a video, not a file: never taken for a screenshot (text gate)
    _working: tuple[int, Image.Image] | None = field(default=None, repr=False)  # (longest, decoded) of working_image

    @classmethod
    def from_bytes(cls, data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> "Picture":
        """Check that `data` is an image we can decode, without decoding the pixels yet."""
        if not data:
            raise EmptyFile("the file is empty (0 bytes)")
        media_type, fmt = sniff.sniff(data[:512])
        if media_type != sniff.IMAGE or fmt is None:
            raise UnsupportedMedia(
                "not an image this analyzer reads (JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC)"
                + (f"; it looks like {fmt}" if fmt else "; its first bytes match no known image format")
            )
        if fmt == "heif":
            register_heif()
        picture = cls(data, fmt, max_pixels)
        picture._open()
        return picture

    def _open(self) -> Image.Image:
        if self._opened is None:
            try:
                with warnings.catch_warnings():
                    # Pillow warns above ~89 MP; our own limit (checked below) decides instead.
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    im = Image.open(io.BytesIO(self.data))
            except Image.DecompressionBombError as e:
                raise MediaTooLarge(f"image has too many pixels to decode safely ({e})") from None
            except UnidentifiedImageError:
                if self.format == "heif":
                    raise UnsupportedMedia("HEIC/HEIF image, but pillow-heif is not installed to decode it") from None
                raise CorruptMedia(f"{self.format.upper()} header is damaged: Pillow cannot identify the image") from None
            except (OSError, ValueError, SyntaxError) as e:
                raise CorruptMedia(f"cannot read the {self.format.upper()} header: {e}") from None
            w, h = im.size
            if w <= 0 or h <= 0:
                raise CorruptMedia(f"image has no pixels ({w}x{h})")
            if w * h > self.max_pixels:
                raise MediaTooLarge(f"image is {w}x{h} = {w * h:,} pixels, above the limit of {self.max_pixels:,}")
            self._opened = im
        return self._opened

    @cached_property
    def image(self) -> Image.Image:
        """The first frame, decoded in full, turned upright by its EXIF orientation, in 8-bit RGB."""
        return self._decoded(self._open())

    def decoded(self) -> Image.Image | None:
        """The pixels decoded so far, upright in RGB: the full decode (`image`) or else the reduced one
        (`working_image`); None when neither was made (nothing is decoded here)."""
        found: Image.Image | None = self.__dict__.get("image")
        if found is None and self._working is not None:
            found = self._working[1]
        return found

    def _decoded(self, im: Image.Image) -> Image.Image:
        try:
            im.seek(0)
            # Pillow raises on truncated files by default; keep it that way (a half photo is a corrupt photo).
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            im.load()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                upright = ImageOps.exif_transpose(im) or im
                return _to_rgb(upright)
        except (OSError, ValueError, SyntaxError, EOFError, struct.error) as e:
            raise CorruptMedia(f"the {self.format.upper()} data is damaged or truncated: {e}") from None
        except Image.DecompressionBombError as e:
            raise MediaTooLarge(str(e)) from None

    def working_image(self, longest: int) -> Image.Image:
        """The picture upright in RGB, decoded only as finely as an analysis of `longest` pixels on the long side
        needs: a JPEG at least twice that size is decoded by the JPEG decoder itself at 1/2, 1/4 or 1/8 scale (DCT
        scaling: a 12 MP photo for 1280 px costs a seventh of a full decode), never below `longest`. Other formats,
        smaller JPEGs, and pictures already decoded in full give the full image. The result may be larger than
        `longest`; scaling it down further is the caller's choice."""
        if "image" in self.__dict__ or self.format != "jpeg":
            return self.image
        if self._working is not None and self._working[0] == longest:
            return self._working[1]
        w, h = self._open().size
        side = max(w, h)
        if side < 2 * longest:
            return self.image
        im = self._fresh()
        # draft picks the largest reduction that keeps both sides at least these
        im.draft("RGB", (max(1, longest * w // side), max(1, longest * h // side)))
        decoded = self._decoded(im)
        self._working = (longest, decoded)
        return decoded

    def _fresh(self) -> Image.Image:
        """The header opened again (a decode in draft mode must not change the opened image others may decode)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(self.data))

    @cached_property
    def size(self) -> tuple[int, int]:
        """(width, height) upright, from the header: the original size, whatever size the pixels were decoded at."""
        if "image" in self.__dict__:
            return self.image.size
        w, h = self._open().size
        try:
            orientation = self._open().getexif().get(_TAG_ORIENTATION)
        except Exception:  # a broken EXIF block: as the decoder does, no turn
            orientation = None
        return (h, w) if orientation in (5, 6, 7, 8) else (w, h)  # 5-8: turned a quarter, sides swap

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    @property
    def content_type(self) -> str:
        return sniff.content_type(self.format)

    @cached_property
    def exif(self) -> Exif:
        try:
            raw = self._open().getexif()
        except Exception:  # a broken EXIF block must never fail the file
            return Exif()
        return _read_exif(raw)


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        # flatten transparency on white, as a viewer shows it
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        # 16-bit and float images: scale to 8 bits instead of clipping to white
        import numpy as np  # only 16-bit images need it; numpy comes with Pillow's usual installs

        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = ((arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)).astype("uint8")
        return Image.fromarray(scaled, "L").convert("RGB")
    return im.convert("RGB")


_TAG_ORIENTATION = 0x0112
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME = 0x0132
_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_LENS_MODEL = 0xA434
_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825


def _read_exif(raw: Any) -> Exif:
    exif = Exif()
    try:
        sub = raw.get_ifd(_IFD_EXIF)
    except Exception:
        sub = {}
    stamp = sub.get(_TAG_DATETIME_ORIGINAL) or raw.get(_TAG_DATETIME)
    if isinstance(stamp, bytes):
        stamp = stamp.decode("ascii", "replace")
    if isinstance(stamp, str):
        try:
            exif.taken_at = datetime.strptime(stamp.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S").isoformat()
        except ValueError:
            pass
    make, model = (_clean(raw.get(_TAG_MAKE)), _clean(raw.get(_TAG_MODEL)))
    if model:
        # "NIKON CORPORATION" + "NIKON D850" -> "NIKON D850"; "Apple" + "iPhone 15 Pro" -> "Apple iPhone 15 Pro"
        brand = make.split()[0].lower() if make else ""
        exif.camera = model if (not brand or model.lower().startswith(brand)) else f"{make} {model}"
    elif make:
        exif.camera = make
    exif.lens = _clean(sub.get(_TAG_LENS_MODEL))
    try:
        gps = raw.get_ifd(_IFD_GPS)
    except Exception:
        gps = {}
    if gps:
        try:
            lat = _degrees(gps[2], gps.get(1, "N"), "S")
            lon = _degrees(gps[4], gps.get(3, "E"), "W")
            if -90 <= lat <= 90 and -180 <= lon <= 180:
                exif.location = {"lat": round(lat, 7), "lon": round(lon, 7)}
        except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
            pass
    return exif


def _clean(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 ").strip()
    return value or None


def _degrees(dms: Any, ref: Any, negative: str) -> float:
    d, m, s = (float(x) for x in dms)
    value = d + m / 60.0 + s / 3600.0
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -value if str(ref).strip("\x00 ").upper() == negative else value
