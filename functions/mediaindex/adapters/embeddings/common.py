"""What every embedder shares: which pictures mean nothing, and vectors of unit length."""

from __future__ import annotations

import math
from typing import Iterable

from PIL import Image, ImageStat

# A picture with a side under this many pixels is a dot or an icon, not a scene: it gets no vector.
MIN_SIDE = 16
# Grey standard deviation (0-255) under which a picture is one flat colour (a black frame, a blank page): no vector.
MIN_CONTRAST = 2.0


def meaningless(image: Image.Image) -> str | None:
    """Why a picture is too small or too blank for a vector that means anything, or None when it is not. A flat
    picture's vector would sit close to every other flat picture's and answer every description equally badly."""
    if min(image.size) < MIN_SIDE:
        return f"too small ({image.width}x{image.height} pixels)"
    grey = image.convert("L")
    grey.thumbnail((256, 256))
    if ImageStat.Stat(grey).stddev[0] < MIN_CONTRAST:
        return "blank (one flat colour)"
    return None


def unit(values: Iterable[float]) -> list[float]:
    """`values` scaled to length 1 (cosine similarity becomes a dot product); all zeros stay zeros."""
    vector = [float(v) for v in values]
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm > 0 else vector
