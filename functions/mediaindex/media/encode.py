"""Re-encode a picture (or a crop of it) so that an image API accepts it: the right format, within its byte and pixel
limits, upright.

Original bytes are sent unchanged whenever they already fit (no quality lost, no time spent). Otherwise the upright
RGB image (`Picture.image`) is scaled and written again. Scaling keeps the aspect ratio, so boxes that the API returns
as ratios of the width and height stay valid for the original picture.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from dataclasses import dataclass, field

from PIL import Image

from mediaindex.domain.errors import MediaTooLarge, UnsupportedMedia
from mediaindex.domain.model import Box
from mediaindex.media.picture import Picture

log = logging.getLogger(__name__)

_ORIENTATION_TAG = 0x0112
# Pictures that were drawn rather than photographed keep sharp edges (text) better as PNG, while that stays small.
_LOSSLESS_SOURCES = frozenset({"png", "gif", "bmp"})
_PNG_FIRST_MAX_PIXELS = 4_000_000
_DRAWN_MAX_COLOURS = 4096
JPEG_QUALITY = 90
_LOWER_JPEG_QUALITY = 85
_FIT_ATTEMPTS = 8
# Above this many pixels the bytes are predicted from a probe of about _PROBE_PIXELS before encoding in full.
_PROBE_ABOVE_PIXELS = 8_000_000
_PROBE_PIXELS = 1_000_000


@dataclass(frozen=True)
class ImageLimits:
    """What an image API accepts."""

    max_bytes: int
    max_side: int  # pixels, for width and height each
    min_side: int
    formats: frozenset[str]  # formats sent as they are (sniffed names: jpeg, png)
    # pixel modes sent as they are, per format (a CMYK JPEG or a 16-bit PNG is re-encoded rather than risked)
    modes: dict[str, frozenset[str]] = field(default_factory=dict)


# Amazon Rekognition Image (Guidelines and quotas): image bytes at most 5 MB, JPEG or PNG, at least 80 pixels high and
# wide, DetectLabels and DetectModerationLabels at most 10,000 pixels wide and high.
REKOGNITION = ImageLimits(
    max_bytes=5 * 1024 * 1024,
    max_side=10_000,
    min_side=80,
    formats=frozenset({"jpeg", "png"}),
    modes={"jpeg": frozenset({"L", "RGB"}), "png": frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})},
)


@dataclass
class Encoded:
    data: bytes
    format: str  # jpeg or png
    width: int
    height: int
    # Why the original bytes could not be sent as they were; empty when they were.
    reasons: list[str] = field(default_factory=list)

    @property
    def reencoded(self) -> bool:
        return bool(self.reasons)


def _header(data: bytes) -> Image.Image:
    """The image opened for its header only. `Picture` already applied our own pixel limit, so Pillow's
    decompression-bomb warning is noise here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) of an image's bytes; 1 when it has none or it cannot be read."""
    try:
        with _header(data) as im:
            value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a damaged EXIF block is no orientation; decoding the pixels is what may fail the file
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def reasons_to_reencode(picture: Picture, limits: ImageLimits) -> list[str]:
    """Why `picture.data` cannot go to the API as it is (empty: send it unchanged). Reads the header only."""
    reasons = []
    if picture.format not in limits.formats:
        reasons.append(f"{picture.format.upper()} is not accepted")
    if len(picture.data) > limits.max_bytes:
        reasons.append(f"{len(picture.data):,} bytes is over {limits.max_bytes:,}")
    try:
        with _header(picture.data) as header:
            (width, height), mode = header.size, header.mode
    except Exception:  # no header Pillow can open on its own: decode (raises BadMedia) and send re-encoded
        return reasons + [f"{picture.format.upper()} header unreadable on its own ({picture.image.width}x{picture.image.height})"]
    if picture.format in limits.formats and mode not in limits.modes.get(picture.format, frozenset({mode})):
        reasons.append(f"pixel mode {mode}")
    if max(width, height) > limits.max_side:
        reasons.append(f"{width}x{height} is over {limits.max_side} pixels a side")
    if min(width, height) < limits.min_side:
        reasons.append(f"{width}x{height} is under {limits.min_side} pixels a side")
    turn = orientation(picture.data)
    if turn != 1:
        reasons.append(f"EXIF orientation {turn}: sent upright")
    return reasons


def encode_picture(picture: Picture, limits: ImageLimits) -> Encoded:
    """The bytes to send for `picture`: its own when they fit `limits`, else the upright image re-encoded."""
    reasons = reasons_to_reencode(picture, limits)
    if not reasons:
        with _header(picture.data) as header:
            width, height = header.size
        return Encoded(picture.data, picture.format, width, height)
    encoded = encode_image(picture.image, limits, lossless=picture.format in _LOSSLESS_SOURCES)
    encoded.reasons = reasons
    log.debug("picture re-encoded for the API", extra={"reasons": reasons, "bytes": len(encoded.data)})
    return encoded


def encode_image(image: Image.Image, limits: ImageLimits, lossless: bool = False) -> Encoded:
    """Write an RGB image within `limits`: scaled to fit the sides, then smaller until the bytes fit. PNG when
    `lossless` (the source was) and the picture is a drawing that fits, JPEG otherwise."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    scale = _side_scale(image.width, image.height, limits)
    quality = JPEG_QUALITY
    if image.width * image.height * scale * scale > _PROBE_ABOVE_PIXELS:
        scale = min(scale, _scale_for_bytes(image, limits, quality))
    for attempt in range(_FIT_ATTEMPTS):
        scaled = _resized(image, scale)
        if lossless and attempt == 0 and scaled.width * scaled.height <= _PNG_FIRST_MAX_PIXELS and _drawn(scaled):
            data = _save(scaled, "PNG")
            if len(data) <= limits.max_bytes:
                return Encoded(data, "png", scaled.width, scaled.height, ["re-encoded"])
        data = _save(scaled, "JPEG", quality=quality)
        if len(data) <= limits.max_bytes:
            return Encoded(data, "jpeg", scaled.width, scaled.height, ["re-encoded"])
        # Bytes grow about with the pixel count: shrink the area by the overshoot, with a margin.
        quality = _LOWER_JPEG_QUALITY
        shrink = math.sqrt(limits.max_bytes / len(data)) * 0.9
        new_scale = scale * shrink
        if min(image.width, image.height) * new_scale < limits.min_side:
            break
        scale = new_scale
    raise MediaTooLarge(
        f"cannot fit a {image.width}x{image.height} image into {limits.max_bytes:,} bytes without going under "
        f"{limits.min_side} pixels a side"
    )


def _drawn(image: Image.Image) -> bool:
    """Few colours: a drawing, a chart, a screenshot, whose edges and text PNG keeps and compresses well. A photo
    saved losslessly (BMP, PNG) has far more, and goes as JPEG: a tenth of the bytes, a fiftieth of the time."""
    return image.getcolors(_DRAWN_MAX_COLOURS) is not None


def _scale_for_bytes(image: Image.Image, limits: ImageLimits, quality: int) -> float:
    """A first guess of the scale at which the JPEG fits, from a small probe's bytes per pixel. A smaller image has
    more detail per pixel, so the guess errs on the small side; encoding a big image twice would cost seconds."""
    probe_scale = math.sqrt(_PROBE_PIXELS / (image.width * image.height))
    probe = image.reduce(max(1, int(1 / probe_scale))) if probe_scale < 0.5 else image
    per_pixel = len(_save(probe, "JPEG", quality=quality)) / (probe.width * probe.height)
    return math.sqrt(limits.max_bytes * 0.9 / (per_pixel * image.width * image.height))


def _side_scale(width: int, height: int, limits: ImageLimits) -> float:
    scale = min(1.0, limits.max_side / max(width, height))
    if min(width, height) * scale < limits.min_side:
        scale = limits.min_side / min(width, height)  # small images are enlarged: boxes are ratios, they still hold
        if max(width, height) * scale > limits.max_side:
            raise UnsupportedMedia(
                f"a {width}x{height} image is too long and thin: at least {limits.min_side} pixels across it would "
                f"make it more than {limits.max_side} pixels long"
            )
    return scale


def _resized(image: Image.Image, scale: float) -> Image.Image:
    if abs(scale - 1.0) < 1e-9:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC,
                        reducing_gap=1.0 if scale < 1 else None)  # a box reduction first: seconds saved on 100 MP


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        image.save(buf, "JPEG", **options)
    else:
        image.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def crop_face(image: Image.Image, box: Box, margin: float = 0.4, min_side: int = 80) -> tuple[Image.Image, Box]:
    """A crop around a face box (ratios of `image`), widened by `margin` of the box's size on every side and kept
    inside the image, and the face's box as ratios of that crop. Crops under `min_side` are enlarged to it."""
    box = box.clamp()
    w, h = image.width, image.height
    left = max(0.0, (box.left - margin * box.width) * w)
    top = max(0.0, (box.top - margin * box.height) * h)
    right = min(float(w), (box.left + box.width * (1 + margin)) * w)
    bottom = min(float(h), (box.top + box.height * (1 + margin)) * h)
    # whole pixels outward, ignoring floating-point dust (350.00000000000006 is pixel 350)
    x0, y0 = int(math.floor(left + 1e-6)), int(math.floor(top + 1e-6))
    x1, y1 = max(x0 + 1, int(math.ceil(right - 1e-6))), max(y0 + 1, int(math.ceil(bottom - 1e-6)))
    crop = image.crop((x0, y0, x1, y1))
    cw, ch = crop.width, crop.height
    inner = Box((box.left * w - x0) / cw, (box.top * h - y0) / ch, box.width * w / cw, box.height * h / ch).clamp()
    if min(cw, ch) < min_side:
        scale = min_side / min(cw, ch)
        crop = crop.resize((max(min_side, round(cw * scale)), max(min_side, round(ch * scale))), Image.Resampling.BICUBIC)
    return crop, inner
