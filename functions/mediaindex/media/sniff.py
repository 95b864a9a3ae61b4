"""Tell what a file is from its first bytes, not from its name (names lie: `photo.jpg` may be a PNG or a PDF)."""

from __future__ import annotations

IMAGE = "image"
VIDEO = "video"
UNKNOWN = "unknown"

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}

# content type by format, for formats recognised below
_CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "heif": "image/heif",
    "mp4": "video/mp4",
    "quicktime": "video/quicktime",
    "matroska": "video/x-matroska",
    "webm": "video/webm",
    "avi": "video/x-msvideo",
    "mpeg-ts": "video/mp2t",
}


def sniff(head: bytes) -> tuple[str, str | None]:
    """Return (media_type, format) for a file's first bytes (32 are enough); format is None when unknown."""
    fmt = _format(head)
    if fmt is None:
        return UNKNOWN, None
    return (VIDEO if _CONTENT_TYPES[fmt].startswith("video/") else IMAGE), fmt


def content_type(fmt: str | None) -> str:
    return _CONTENT_TYPES.get(fmt or "", "application/octet-stream")


def _format(h: bytes) -> str | None:
    if h.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if h[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if h[:4] == b"RIFF" and h[8:12] == b"WEBP":
        return "webp"
    if h[:4] == b"RIFF" and h[8:12] == b"AVI ":
        return "avi"
    if h[:2] == b"BM" and len(h) >= 14:
        return "bmp"
    if h[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if h[4:8] == b"ftyp":
        brand = h[8:12]
        if brand in _HEIF_BRANDS:
            return "heif"
        if brand == b"qt  ":
            return "quicktime"
        return "mp4"
    if h[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "quicktime"
    if h.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in h[:64] else "matroska"
    if h[:1] == b"\x47" and len(h) > 188 and h[188:189] == b"\x47":
        return "mpeg-ts"
    return None


def is_known_content_type(value: str | None) -> bool:
    """Is this one of the content types above (what S3 may be told to answer with)?"""
    return value in _CONTENT_TYPES.values()
