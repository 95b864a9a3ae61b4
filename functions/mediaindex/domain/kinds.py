"""What a file is, beyond its media type, and the words its camera answers to (docs/dates.md).

`kinds_of(doc)`: the kinds a document answers to:

- "video": a video; "photo": any still image (screenshots included);
- "selfie": a still image whose EXIF lens model names the front camera (iPhones write LensModel
  "iPhone 12 front camera 2.71mm f/2.2"; Android phones that write one say "front" too);
- "screenshot": a still image with no camera in its EXIF (no `camera`: cameras and phone cameras always write
  Make/Model, screenshots never do), and either
  (a) a key that says so: a word of it is "screenshot(s)", "screen shot", "screencapture", or the macOS/Android
      names in German, French, Spanish, Italian or Swedish (the folder counts: Android keeps them in
      DCIM/Screenshots; a cropped screenshot keeps its name), or
  (b) a screen's size and a screen's content: width x height (either orientation) is one of `SCREEN_SIZES`
      (phones, tablets, desktops), or its long side over its short side is a screen's aspect ratio
      (16:9, 16:10, 18:9, 18.5:9, 19:9, 19.5:9, 20:9, 21:9, 64:27 within 0.5%) with a short side of at least 640
      pixels; and the file is a PNG or has text in it (OCR'd `text`). Photos' own 4:3 and 3:2 count only as
      exact screen sizes.

`camera_words(camera)`: the lower-case words of the `camera` field ("Apple iPhone 15 Pro": apple, iphone, 15,
pro) without company suffixes (corporation, ltd...), plus the brand and line a model implies: an iPhone or iPad is
apple, an SM- model is samsung and galaxy, a Pixel is google, an EOS is canon, a COOLPIX nikon, DSC-/ILCE- sony,
DMC-/DC- panasonic and lumix.

Pure: the standard library and other domain modules only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mediaindex.domain.document import SearchDocument

from mediaindex.domain.expressions import text_tokens

VIDEO = "video"
PHOTO = "photo"
SCREENSHOT = "screenshot"
SELFIE = "selfie"
KINDS = (PHOTO, VIDEO, SCREENSHOT, SELFIE)

# width x height of common screens, portrait for phones and tablets, landscape for desktops; either orientation
SCREEN_SIZES = frozenset({
    # iPhones
    (640, 960), (640, 1136), (750, 1334), (1242, 2208), (1080, 1920), (1125, 2436), (828, 1792), (1242, 2688),
    (1170, 2532), (1284, 2778), (1179, 2556), (1290, 2796), (1206, 2622), (1320, 2868),
    # Android phones
    (720, 1280), (720, 1520), (720, 1600), (1080, 2160), (1080, 2220), (1080, 2280), (1080, 2340), (1080, 2400),
    (1440, 2560), (1440, 2960), (1440, 3040), (1440, 3088), (1440, 3120), (1440, 3200), (1344, 2992), (1280, 2856),
    # iPads and other tablets
    (768, 1024), (1536, 2048), (1668, 2224), (1668, 2388), (1620, 2160), (1640, 2360), (2048, 2732), (1488, 2266),
    (1600, 2560), (1200, 1920), (1800, 2880),
    # desktops and laptops
    (1024, 768), (1280, 800), (1280, 1024), (1366, 768), (1440, 900), (1536, 864), (1600, 900), (1680, 1050),
    (1920, 1080), (1920, 1200), (2560, 1080), (2560, 1440), (2560, 1600), (2880, 1800), (3024, 1964), (3456, 2234),
    (3440, 1440), (3840, 2160), (5120, 2880), (2736, 1824), (2256, 1504), (2880, 1920), (3000, 2000),
})
# long side / short side of screens that photos seldom have (4:3 and 3:2 are cameras' own ratios)
SCREEN_RATIOS = (16 / 9, 16 / 10, 18 / 9, 18.5 / 9, 19 / 9, 19.5 / 9, 20 / 9, 21 / 9, 64 / 27)
RATIO_TOLERANCE = 0.005
MIN_SCREEN_SIDE = 640

# words of a key that say "screenshot" (as text_tokens gives them)
SCREENSHOT_WORDS = frozenset({
    "screenshot", "screenshots", "screencapture", "screencap", "bildschirmfoto", "schermata", "skarmbild",
    "skarmavbild",
})
SCREENSHOT_PHRASES = (("screen", "shot"), ("screen", "shots"), ("capture", "d", "ecran"),
                      ("captura", "de", "pantalla"))

# brand and line words a model implies: (a word of the camera field, the words it adds)
MODEL_WORDS: dict[str, tuple[str, ...]] = {
    "iphone": ("apple",), "ipad": ("apple",), "ipod": ("apple",),
    "sm": ("samsung", "galaxy"), "galaxy": ("samsung",),
    "pixel": ("google",), "nexus": ("google",),
    "eos": ("canon",), "powershot": ("canon",), "ixus": ("canon",),
    "coolpix": ("nikon",),
    "dsc": ("sony",), "ilce": ("sony", "alpha"), "xperia": ("sony",),
    "dmc": ("panasonic", "lumix"), "dc": ("panasonic", "lumix"), "lumix": ("panasonic",),
    "redmi": ("xiaomi",), "mavic": ("dji",),
}
# a camera field word that is only a company's legal form
COMPANY_WORDS = frozenset({"corporation", "corp", "co", "ltd", "inc", "company", "limited", "imaging", "gmbh"})


def camera_words(camera: str | None) -> list[str]:
    """The words a search for a camera finds this `camera` field by: its own words, lower case, then the brand
    (and line) its model implies, each once."""
    if not camera or not isinstance(camera, str):
        return []
    seen: dict[str, None] = {}
    words = [w for w in text_tokens(camera) if w not in COMPANY_WORDS]
    for w in words:
        seen.setdefault(w, None)
    for i, w in enumerate(words):
        implied = MODEL_WORDS.get(w, ())
        if w in ("sm", "dsc", "ilce", "dmc", "dc") and i + 1 >= len(words):
            implied = ()  # a model prefix needs a model after it: SM-G991B, DSC-RX100
        for extra in implied:
            seen.setdefault(extra, None)
    return list(seen)


def kinds_of(doc: SearchDocument) -> list[str]:
    """The kinds a document answers to ("video", "photo", "screenshot", "selfie"; see the module's docstring)."""
    media_type = doc.get("media_type")
    if media_type == "video":
        return [VIDEO]
    if media_type != "image":
        return []
    kinds = [PHOTO]
    if is_screenshot(doc):
        kinds.append(SCREENSHOT)
    if is_selfie(doc):
        kinds.append(SELFIE)
    return kinds


def is_selfie(doc: SearchDocument) -> bool:
    """A still image taken with the front camera, as its EXIF lens model says."""
    lens = doc.get("lens")
    return doc.get("media_type") == "image" and isinstance(lens, str) and "front" in text_tokens(lens)


def is_screenshot(doc: SearchDocument) -> bool:
    """A still image without a camera whose key says screenshot, or of a screen's size with text in it or saved
    as PNG (the rule in the module's docstring)."""
    if doc.get("media_type") != "image" or doc.get("camera"):
        return False
    if key_says_screenshot(doc.get("key")):
        return True
    if not screen_sized(doc.get("width"), doc.get("height")):
        return False
    key = doc.get("key")
    png = doc.get("content_type") == "image/png" or (isinstance(key, str) and key.lower().endswith(".png"))
    text = doc.get("text")
    return png or (isinstance(text, str) and bool(text.strip()))


def key_says_screenshot(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    words = text_tokens(key)
    if any(w in SCREENSHOT_WORDS for w in words):
        return True
    return any(tuple(words[i:i + len(p)]) == p for p in SCREENSHOT_PHRASES for i in range(len(words)))


def screen_sized(width: Any, height: Any) -> bool:
    """Is width x height a screen's: one of `SCREEN_SIZES` either way round, or a screen's aspect ratio with a short
    side of at least 640 pixels?"""
    if not isinstance(width, int) or not isinstance(height, int) or isinstance(width, bool) \
            or isinstance(height, bool) or width <= 0 or height <= 0:
        return False
    if (width, height) in SCREEN_SIZES or (height, width) in SCREEN_SIZES:
        return True
    short, long = min(width, height), max(width, height)
    if short < MIN_SCREEN_SIDE:
        return False
    ratio = long / short
    return any(abs(ratio - r) / r <= RATIO_TOLERANCE for r in SCREEN_RATIOS)
