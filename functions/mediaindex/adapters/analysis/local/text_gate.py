"""The text gate: with MEDIAINDEX_TEXT=auto, is this picture likely to hold text, so that OCR is worth its cost?

OCR costs 0.3-1.3 s a picture on one core, several times the other models together, and most photos hold no text.
The gate looks only at what the analyzer already has, so it costs nothing measurable:

- "screen": a screenshot or a saved image: no camera in its EXIF (cameras and phone cameras always write Make or
  Model), and a PNG or a screen's size (domain/kinds.py `screen_sized`); a video frame never counts;
- "labels": the ImageNet classifier (run for the labels anyway) gives at least `MIN_TEXT_SHARE` of its
  probability to classes of things that carry printed text (`TEXT_CLASSES`: papers and screens, signs, packaging,
  shop fronts, machines with printed panels). A photo of a receipt or a letter is mostly "envelope", "menu",
  "web site", "binder", "book jacket" to it.

The rule and its figures (bench/bench_text_gate.py) are in docs/local-models.md, "Text".
"""

from __future__ import annotations

import numpy as np

from mediaindex.domain.kinds import screen_sized
from mediaindex.media.picture import Picture

from . import taxonomy

SCREEN = "screen"
LABELS = "labels"

# ImageNet classes whose objects carry printed text, as the classifier names them (taxonomy.json)
TEXT_CLASSES = frozenset({
    # paper and print
    "web site", "menu", "envelope", "book jacket", "comic book", "crossword puzzle", "binder", "notebook",
    # screens
    "monitor", "screen", "television", "desktop computer", "laptop", "hand-held computer", "cell phone",
    # signs and displays
    "street sign", "scoreboard", "digital clock", "odometer",
    # packaging
    "packet", "carton", "pill bottle", "lotion", "sunscreen",
    # machines with printed panels
    "slot", "vending machine", "cash machine", "pay-phone", "parking meter", "gas pump",
    # shop fronts and shelves of books
    "bookshop", "bookcase", "library", "tobacco shop", "toyshop", "confectionery", "grocery store", "barbershop",
    "shoe shop", "bakery", "butcher shop", "cinema",
})
# the classifier's probability, summed over TEXT_CLASSES, from which a picture is read (chosen by figures: see the
# module's docstring)
MIN_TEXT_SHARE = 0.10


def _text_class_indexes() -> np.ndarray:
    table = taxonomy.load()
    return np.array([i for i, c in enumerate(table.imagenet) if c.name in TEXT_CLASSES], dtype=np.int64)


_indexes: np.ndarray | None = None


def text_share(probabilities: np.ndarray) -> float:
    """The classifier's probability that the picture is one of TEXT_CLASSES."""
    global _indexes
    if _indexes is None:
        _indexes = _text_class_indexes()
    return float(np.asarray(probabilities, dtype=np.float64)[_indexes].sum())


def looks_like_screen(picture: Picture) -> bool:
    if picture.video_frame or picture.exif.camera:
        return False
    return picture.format == "png" or screen_sized(picture.width, picture.height)


def reason_to_read(picture: Picture, probabilities: np.ndarray | None) -> str | None:
    """Why this picture is likely to hold text ("screen" or "labels"), or None when it is not."""
    if looks_like_screen(picture):
        return SCREEN
    if probabilities is not None and text_share(probabilities) >= MIN_TEXT_SHARE:
        return LABELS
    return None
