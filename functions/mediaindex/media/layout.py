"""A picture's layout: its grey thumbnail, 64 pixels on the long side (at most 4 KB), kept with its look vector,
and how well two layouts agree once aligned. It tells a copy (resized, re-encoded, cropped, flipped, slightly
rotated, recoloured, captioned) from another shot of the same scene, which the look vector alone cannot
(domain/look_alikes.py has the rule and the measured thresholds).

Agreement is the share of 8x8-pixel cells whose pixels correlate (normalised cross-correlation >= CELL_NCC, or both
cells flat) under the best of: no change, a mirror, rotations of up to 8 degrees, and the smaller picture placed
inside the larger at 100, 90, 80 or 70 % of its size (found by template matching). Brightness, contrast and colour
changes do not count: each cell is compared after removing its mean and scale.
"""

from __future__ import annotations

from typing import Any

from mediaindex.domain.look_alikes import COPY_LAYOUT, NEAR_LAYOUT, LayoutMatch

SIDE = 64
CELL = 8
CELL_NCC = 0.7
FLAT = 1.2  # a cell whose contrast (norm of its normalised pixels) is below this is flat
ROTATIONS = (0, -8, 8, -4, 4)
SCALES = (1.0, 0.9, 0.8, 0.7)
# every transform tried, the likeliest edits first (as it is, mirrored, then crops, then small rotations), so that
# a copy is usually recognised after a few
TRANSFORMS = sorted(((m, d, s) for m in (False, True) for d in ROTATIONS for s in SCALES),
                    key=lambda t: (t[1] != 0, t[2] != 1.0, abs(t[1]), -t[2], t[0]))
# a picture smaller than this, or this flat (standard deviation of its grey levels), has no layout worth comparing
MIN_SIDE = 16
MIN_CONTRAST = 4.0
SHARPNESS_SIDE = 256


def grey_copy(image: Any) -> Any:
    """The picture in grey at SHARPNESS_SIDE pixels on the long side at most: what `signature` and `sharpness`
    both start from (one conversion for both)."""
    from PIL import Image

    grey = image.convert("L") if image.mode != "L" else image.copy()
    grey.thumbnail((SHARPNESS_SIDE, SHARPNESS_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return grey


def signature(image: Any) -> bytes | None:
    """The layout of a Pillow image: 2 bytes of width and height, then the grey pixels row by row; None for a
    picture too small or too uniform (a black frame) to tell anything apart."""
    from PIL import Image, ImageStat

    if min(image.size) < MIN_SIDE:
        return None
    grey = image.convert("L") if image.mode != "L" else image.copy()
    grey.thumbnail((SIDE, SIDE), Image.Resampling.BOX)
    if ImageStat.Stat(grey).stddev[0] < MIN_CONTRAST:
        return None
    return bytes((grey.width, grey.height)) + grey.tobytes()


def pixels_of(layout: bytes) -> Any:
    import numpy as np

    width, height = layout[0], layout[1]
    if width * height != len(layout) - 2 or not width or not height:
        raise ValueError("not a layout")
    return np.frombuffer(layout, dtype=np.uint8, offset=2).reshape(height, width)


def match(a: bytes, b: bytes) -> LayoutMatch:
    """How well two layouts agree (module docstring); each is tried inside the other. The search stops as soon as
    the answer cannot change what the rules decide (domain/look_alikes.py): identical as they are, or a copy."""
    pa, pb = pixels_of(a), pixels_of(b)
    plain = _plain(pa, pb)
    if plain >= NEAR_LAYOUT:
        return LayoutMatch(plain, True)
    best = LayoutMatch(plain, True)
    for big, small in ((pa, pb), (pb, pa)):
        found, is_plain = _inside(big, small, enough=COPY_LAYOUT)
        if found > best.agreement:
            best = LayoutMatch(found, is_plain)
        if best.agreement >= COPY_LAYOUT:
            break
    return best


def _plain(a: Any, b: Any) -> float:
    """The agreement of the two pictures as they are, the second resized onto the first."""
    import cv2

    resized = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    return _cells_agree(_normalised(a), _normalised(resized))


def _normalised(x: Any) -> Any:
    import numpy as np

    x = x.astype(np.float32)
    return (x - x.mean()) / max(float(x.std()), 1e-3)


def _cells_agree(a: Any, b: Any) -> float:
    import numpy as np

    h, w = (min(a.shape[0], b.shape[0]) // CELL) * CELL, (min(a.shape[1], b.shape[1]) // CELL) * CELL
    if h == 0 or w == 0:
        return 0.0

    def cells(x: Any) -> Any:
        c = x[:h, :w].reshape(h // CELL, CELL, w // CELL, CELL).swapaxes(1, 2).reshape(-1, CELL * CELL)
        return c - c.mean(axis=1, keepdims=True)

    ca, cb = cells(a), cells(b)
    na, nb = np.linalg.norm(ca, axis=1), np.linalg.norm(cb, axis=1)
    flat = (na < FLAT) & (nb < FLAT)
    ncc = (ca * cb).sum(axis=1) / np.maximum(na * nb, 1e-6)
    return float(np.mean(flat | (ncc >= CELL_NCC)))


def _rotated(x: Any, degrees: int) -> Any:
    if not degrees:
        return x
    import cv2

    h, w = x.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(x, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _inside(big: Any, small: Any, enough: float = 1.0) -> tuple[float, bool]:
    """The best agreement of `small` placed inside `big` (module docstring), and whether it needed no change;
    the search stops at the first transform that reaches `enough`."""
    import cv2
    import numpy as np

    target = _normalised(big)
    best, plain = 0.0, False
    turned: dict[tuple[bool, int], Any] = {}
    for mirrored, degrees, scale in TRANSFORMS:
        if (mirrored, degrees) not in turned:
            flipped = np.ascontiguousarray(small[:, ::-1]) if mirrored else small
            turned[(mirrored, degrees)] = _rotated(flipped, degrees)
        th, tw = max(CELL, round(big.shape[0] * scale)), max(CELL, round(big.shape[1] * scale))
        template = _normalised(cv2.resize(turned[(mirrored, degrees)], (tw, th), interpolation=cv2.INTER_AREA))
        if scale == 1.0:
            y = x = 0
        else:
            scores = cv2.matchTemplate(target, template, cv2.TM_CCOEFF_NORMED)
            _, _, _, (x, y) = cv2.minMaxLoc(scores)
        agreement = _cells_agree(_normalised(target[y:y + th, x:x + tw]), template)
        if agreement > best:
            best, plain = agreement, not mirrored and degrees == 0 and scale == 1.0
        if best >= enough:
            break
    return best, plain


def encode(layout: bytes) -> str:
    import base64

    return base64.b64encode(layout).decode("ascii")


def decode(text: str) -> bytes:
    import base64

    return base64.b64decode(text.encode("ascii"), validate=True)


def sharpness(image: Any) -> float:
    """How sharp a picture is: the variance of its grey Laplacian at SHARPNESS_SIDE pixels on the long side, so
    that copies of different sizes compare fairly. For choosing which copy to keep."""
    import numpy as np

    x = np.asarray(grey_copy(image), dtype=np.float32)
    if min(x.shape) < 3:
        return 0.0
    lap = x[1:-1, :-2] + x[1:-1, 2:] + x[:-2, 1:-1] + x[2:, 1:-1] - 4 * x[1:-1, 1:-1]
    return round(float(lap.var()), 2)
