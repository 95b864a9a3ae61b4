"""Small renderings of a picture for people to see: a thumbnail, a face crop, a video's poster frame, a face
cropped at full size to enrol from. JPEG draft mode decodes at 1/2..1/8 scale, which is most of the speed."""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from typing import Any, Mapping

from PIL import Image, ImageOps

from mediaindex.domain.errors import BadMedia
from mediaindex.media import sniff

THUMB_SIDE = 360
FACE_SIDE = 160
PREVIEW_SIDE = 2048  # the viewer's size: a screen's width, and every format a browser cannot show as JPEG
# ... or less, down to a full-HD screen's width, where the decoder or a whole-pixel average gets there cheaply: a
# 12 MP JPEG decoded at half scale (2016 px) needs no resampling, which took 130 ms of its 300 at 2048 px.
PREVIEW_MIN_SIDE = 1920
# Thumbnails of bigger files are not made (an icon is shown): reading them would cost more than it is worth.
MAX_THUMB_SOURCE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_PIXELS = 150_000_000


# A rendering whose full decode is bigger than this (a PNG, TIFF or HEIC has no reduced decoding; a JPEG is decoded
# at 1/2..1/8 scale first) waits for the others of its kind: one at a time, so a page asking for many thumbnails of
# 100-megapixel files holds one such decode in memory, not one per thread.
BIG_DECODE_PIXELS = 24_000_000
_big_decodes = threading.BoundedSemaphore(1)
# What a rendering keeps at most of a picture (a face crop's source included): detail beyond it is never shown.
KEEP_SIDE = 4096


def _open_image(data: bytes, max_pixels: int, side: int = THUMB_SIDE * 2, keep: int = KEEP_SIDE,
                at_least: int | None = None) -> Image.Image:
    """Decode for a rendering of about `side` pixels: a JPEG's decoder scales by 1/2..1/8 on the way (draft mode),
    which is most of the speed; the result is at most `keep` pixels on its long side. With `at_least`, `side` is
    the long side only, and a bigger result is first averaged over whole blocks of pixels while it stays that large
    (a few milliseconds; a HEIC or PNG has no reduced decoding), then resampled down to `keep` only when that is
    not enough."""
    media_type, fmt = sniff.sniff(data[:512])
    if media_type != sniff.IMAGE:
        raise BadMedia("not an image")
    if fmt == "heif":
        from mediaindex.media.picture import register_heif

        register_heif()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im: Image.Image = Image.open(io.BytesIO(data))
            if im.width * im.height > max_pixels:
                raise BadMedia(f"image is {im.width}x{im.height}, above the pixel limit")
            # Pillow's draft keeps both sides at least the size asked. A square keeps a face crop's detail in a wide
            # photo; a preview asks for its long side only (a square would decode a 4:3 photo's at full size).
            wide = im.width >= im.height
            asked = (side, side) if not at_least else (
                (side, max(1, side * im.height // im.width)) if wide else (max(1, side * im.width // im.height), side))
            im.draft("RGB", asked)
            big = im.width * im.height > BIG_DECODE_PIXELS
            with _big_decodes if big else contextlib.nullcontext():
                im.load()
                im = ImageOps.exif_transpose(im) or im
                if at_least and max(im.size) // at_least > 1 and max(im.size) > keep:
                    im = im.reduce(max(im.size) // at_least)
                if max(im.size) > keep:  # shrunk before the next big decode may start
                    im.thumbnail((keep, keep), Image.Resampling.BILINEAR)
                return im.convert("RGB")
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise BadMedia(f"cannot decode the image: {e}") from None


def _jpeg(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80, optimize=True, progressive=True)
    return out.getvalue()


def render_thumbnail(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    return _thumbnail_jpeg(_open_image(data, max_pixels, keep=THUMB_SIDE * 2))


def render_preview(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """The photo at display size (PREVIEW_MIN_SIDE..PREVIEW_SIDE on the long side, or its own size when smaller) as a
    JPEG: what the viewer shows, so a HEIC or TIFF photo is seen in every browser and a 12 MP photo costs a few
    hundred kilobytes, not megabytes."""
    im = _open_image(data, max_pixels, PREVIEW_MIN_SIDE, keep=PREVIEW_SIDE, at_least=PREVIEW_MIN_SIDE)
    im.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # baseline, not progressive: the thumbnail stands in while it loads, and progressive encoding took 46 ms of a
    # 12 MP photo's 70
    im.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def thumbnail_of(decoded: Image.Image) -> bytes:
    """The gallery's thumbnail (the API's cached kind "thumb") of a picture already decoded upright in RGB, in full or
    at a reduced scale of at least the thumbnail's size: what render_thumbnail makes from the file, to within
    resampling noise."""
    factor = max(decoded.size) // THUMB_SIDE
    # box-averaged to just above the thumbnail's size first (whole pixels averaged: nothing skipped over), so the
    # Lanczos filter reads a few hundred pixels, not megapixels: 8 ms from a 2016 px copy instead of 28
    im = decoded.reduce(factor) if factor > 1 else decoded.copy()
    return _thumbnail_jpeg(im)


def _thumbnail_jpeg(im: Image.Image) -> bytes:
    im.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return _jpeg(im)


def render_face(data: bytes, box: Mapping[str, Any], max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """The face's box (ratios of the upright image) with a margin, as a square-ish JPEG."""
    im = _open_image(data, max_pixels)
    w, h = im.size
    left, top = float(box["left"]) * w, float(box["top"]) * h
    bw, bh = float(box["width"]) * w, float(box["height"]) * h
    margin = 0.25 * max(bw, bh)
    crop = im.crop((int(max(0, left - margin)), int(max(0, top - margin)),
                    int(min(w, left + bw + margin)), int(min(h, top + bh + margin))))
    crop.thumbnail((FACE_SIDE, FACE_SIDE), Image.Resampling.LANCZOS)
    return _jpeg(crop)


def crop_face(data: bytes, box: Mapping[str, Any], max_pixels: int = DEFAULT_MAX_PIXELS, margin: float = 0.6) -> bytes:
    """The face's box with a wide margin, at full resolution (JPEG): enrolling from it enrols that face, the
    largest in the crop, and not the photo's largest."""
    im = _open_image(data, max_pixels)
    w, h = im.size
    left, top = float(box["left"]) * w, float(box["top"]) * h
    bw, bh = float(box["width"]) * w, float(box["height"]) * h
    pad = margin * max(bw, bh)
    crop = im.crop((int(max(0, left - pad)), int(max(0, top - pad)), int(min(w, left + bw + pad)),
                    int(min(h, top + bh + pad))))
    return _jpeg(crop.convert("RGB"))


def video_face(path_or_bytes: Any, at: float, box: Mapping[str, Any], max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """A video's face cropped from the frame it was seen in (the first frame at or after `at` seconds)."""
    from mediaindex.media.video import VideoReader

    with VideoReader(path_or_bytes, max_pixels=max_pixels) as reader:
        start = max(0.0, float(at))  # samples fall on multiples of the interval: a millisecond's finds this frame
        frame = next(reader.samples(interval=0.001, start=start, end=start + 1.0), None)
        im = frame.image if frame is not None else None
    if im is None:
        raise BadMedia(f"no frame at {at:g} s")
    out = io.BytesIO()
    im.convert("RGB").save(out, "PNG")
    return render_face(out.getvalue(), box, max_pixels)


def video_poster(path_or_bytes: Any, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """The first frame of a video, as a thumbnail: one frame decoded, so it is cheap."""
    from mediaindex.media.video import VideoReader

    with VideoReader(path_or_bytes, max_pixels=max_pixels) as reader:
        frame = next(reader.samples(interval=1e9))
        im = frame.image
    if im is None:  # pragma: no cover - the first sample is never skipped
        raise BadMedia("no frame")
    im = im.convert("RGB")
    im.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return _jpeg(im)
