"""The bytes behind a document: the file itself (a folder on this machine, with HTTP Range; or S3 through a
presigned redirect), a thumbnail (Pillow, cached) and a face crop.

Files are found from the *document* (its bucket and key, as indexed), never from anything the client sends. A
folder file is served only when no symlink lies on its indexed path or, when the server was given `roots`, when its
real path stays inside one of them. Only what sniffs as an image or a video is served.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Sequence

from PIL import Image, ImageOps

from mediaindex.api.http import FilePart, HttpError, Request, Response
from mediaindex.domain.errors import BadMedia, MediaTooLarge, ObjectNotFound
from mediaindex.media import sniff
from mediaindex.ports import ObjectRef

log = logging.getLogger(__name__)

THUMB_SIDE = 360
FACE_SIDE = 160
# Thumbnails of bigger files are not made (an icon is shown): reading them would cost more than it is worth.
MAX_THUMB_SOURCE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_PIXELS = 150_000_000
PRESIGN_SECONDS = 300

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, length) of a single `bytes=` range; None for the whole file (no header, several ranges, or a unit
    we do not know: RFC 9110 lets a server ignore those). Raises 416 for a range outside the file."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m:
        return None
    first, last = m.group(1), m.group(2)
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        n = int(last)
        if n == 0:
            raise HttpError(416, "an empty suffix range selects nothing", size=size)
        n = min(n, size)
        return size - n, n
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise HttpError(416, f"range {header!r} is outside the file ({size} bytes)", size=size)
    return start, end - start + 1


def serve_file(path: Path, content_type: str, request: Request, etag: str) -> Response:
    size = path.stat().st_size
    headers = {
        "Content-Type": content_type,
        "Accept-Ranges": "bytes",
        "ETag": f'"{etag}"',
        "Cache-Control": "private, max-age=300",
        "Content-Disposition": "inline",
    }
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(304, headers)
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range and if_range != f'"{etag}"':
        wanted = None  # the file changed since the client's first part: send it whole
    try:
        part = parse_range(wanted, size)
    except HttpError:
        return Response(416, {**headers, "Content-Range": f"bytes */{size}"}, b"")
    if part is None:
        return Response(200, headers, FilePart(path, 0, size))
    start, length = part
    headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    return Response(206, headers, FilePart(path, start, length))


def _media_type(head: bytes) -> tuple[str, str]:
    media_type, fmt = sniff.sniff(head)
    if media_type not in (sniff.IMAGE, sniff.VIDEO):
        raise HttpError(415, "the indexed file is not an image or a video any more: it is not served")
    return media_type, sniff.content_type(fmt)


def _open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Decode for a small rendering: JPEG draft mode decodes at 1/2..1/8 scale, which is most of the speed."""
    media_type, fmt = sniff.sniff(data[:512])
    if media_type != sniff.IMAGE:
        raise BadMedia("not an image")
    if fmt == "heif":
        from mediaindex.media.picture import _register_heif

        _register_heif()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
            if im.width * im.height > max_pixels:
                raise BadMedia(f"image is {im.width}x{im.height}, above the pixel limit")
            im.draft("RGB", (THUMB_SIDE * 2, THUMB_SIDE * 2))
            im.load()
            im = ImageOps.exif_transpose(im) or im
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise BadMedia(f"cannot decode the image: {e}") from None
    return im.convert("RGB")


def _jpeg(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80, optimize=True, progressive=True)
    return out.getvalue()


def render_thumbnail(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    im = _open_image(data, max_pixels)
    im.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return _jpeg(im)


def render_face(data: bytes, box: dict[str, Any], max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
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


def crop_face(data: bytes, box: dict[str, Any], max_pixels: int = DEFAULT_MAX_PIXELS, margin: float = 0.6) -> bytes:
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


class ThumbnailCache:
    """Rendered JPEGs on disk, named by document id and content: a changed file gets a new thumbnail."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def path(self, doc: dict[str, Any], kind: str) -> Path:
        version = doc.get("content_sha256") or doc.get("etag") or doc.get("indexed_at") or ""
        digest = hashlib.sha256(f"{doc['id']}\x00{version}\x00{kind}".encode()).hexdigest()[:32]
        return self.folder / digest[:2] / f"{digest}.jpg"

    def get(self, doc: dict[str, Any], kind: str) -> bytes | None:
        try:
            return self.path(doc, kind).read_bytes()
        except OSError:
            return None

    def put(self, doc: dict[str, Any], kind: str, data: bytes) -> None:
        target = self.path(doc, kind)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # write then rename: a reader never sees half a file
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except OSError as e:  # a read-only cache folder only costs speed
            log.warning("thumbnail not cached: %s", e)


class MediaSource:
    """Where a document's bytes come from. Subclasses: folder files, S3 objects."""

    media_origin = ""  # for the Content-Security-Policy, when media are served from elsewhere

    def serve(self, doc: dict[str, Any], request: Request) -> Response:  # pragma: no cover - interface
        raise NotImplementedError

    def read(self, doc: dict[str, Any]) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def poster(self, doc: dict[str, Any], max_pixels: int) -> bytes | None:
        return None

    def url(self, doc: dict[str, Any]) -> str:
        """Where the browser loads the file from (a page sending a bearer token asks for this first)."""
        return f"/api/documents/{doc['id']}/media"


class FolderMedia(MediaSource):
    def __init__(self, roots: Sequence[Path] = ()) -> None:
        self.roots = [Path(r).expanduser().resolve() for r in roots]

    def path_of(self, doc: dict[str, Any]) -> Path:
        """The file to serve. Without `roots`, no symlink may lie anywhere on the indexed path (a link planted in
        an indexed folder could point anywhere); with `roots`, symlinks are followed but the real path must stay
        inside one of them."""
        key = doc.get("key") or ""
        if doc.get("bucket") or "\x00" in key or not os.path.isabs(key):
            raise HttpError(404, "this document is not a file on this machine")
        lexical = Path(os.path.normpath(key))  # `mediaindex index ../photos` writes keys with .. in them
        try:
            real = Path(key).resolve(strict=True)
        except (OSError, RuntimeError):
            raise HttpError(404, "the indexed file is gone from its folder") from None
        if self.roots:
            allowed = any(real == root or root in real.parents for root in self.roots)
        else:
            allowed = real == lexical and not any(p.is_symlink() for p in (lexical, *lexical.parents))
        if not allowed:
            raise HttpError(403, "the indexed path leads outside the served folders (through a symlink): not "
                                 "served; start the server with --root DIR to allow files whose real path is in DIR")
        if not real.is_file():
            raise HttpError(404, "the indexed path is not a regular file")
        return real

    def serve(self, doc: dict[str, Any], request: Request) -> Response:
        path = self.path_of(doc)
        with path.open("rb") as f:
            head = f.read(512)
        _, content_type = _media_type(head)
        st = path.stat()
        return serve_file(path, content_type, request, f"{st.st_mtime_ns:x}-{st.st_size:x}")

    def read(self, doc: dict[str, Any]) -> bytes:
        from mediaindex.adapters.storage.folder import read_regular_file

        try:
            return read_regular_file(self.path_of(doc), MAX_THUMB_SOURCE_BYTES)[0]
        except MediaTooLarge:
            raise BadMedia("too big to make a thumbnail of") from None

    def poster(self, doc: dict[str, Any], max_pixels: int) -> bytes | None:
        return video_poster(self.path_of(doc), max_pixels)


class S3Media(MediaSource):
    """S3 objects: the browser is redirected to a short-lived presigned GET, so the bytes never pass through
    Lambda (whose responses are capped at 6 MB). Only objects of `buckets` are served."""

    def __init__(self, client: Any, buckets: Sequence[str], expires: int = PRESIGN_SECONDS) -> None:
        self.client = client
        self.buckets = [b for b in buckets if b]
        self.expires = expires
        origins = set()
        for bucket in self.buckets:
            url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "x"}, ExpiresIn=60)
            scheme, _, rest = url.partition("://")
            origins.add(f"{scheme}://{rest.split('/', 1)[0]}")
        self.media_origin = " ".join(sorted(origins))

    def _ref(self, doc: dict[str, Any]) -> ObjectRef:
        bucket = doc.get("bucket") or ""
        if bucket not in self.buckets:
            raise HttpError(403, "this document's bucket is not one this API serves")
        return ObjectRef(bucket, doc["key"])

    def serve(self, doc: dict[str, Any], request: Request) -> Response:
        return Response.redirect(self.url(doc))

    def url(self, doc: dict[str, Any]) -> str:
        ref = self._ref(doc)
        params: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key, "ResponseContentDisposition": "inline"}
        if doc.get("content_type") in sniff._CONTENT_TYPES.values():
            params["ResponseContentType"] = doc["content_type"]
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.expires)

    def read(self, doc: dict[str, Any]) -> bytes:
        from mediaindex.adapters.storage.s3 import S3Storage

        try:
            return S3Storage(self.client, max_object_bytes=MAX_THUMB_SOURCE_BYTES).read(self._ref(doc)).data
        except ObjectNotFound:
            raise HttpError(404, "the file is gone from the bucket") from None


class RoutedMedia(MediaSource):
    """Folder files for documents without a bucket, S3 for the others (a local server on a mixed index)."""

    def __init__(self, folder: FolderMedia, s3: S3Media | None = None) -> None:
        self.folder, self.s3 = folder, s3
        self.media_origin = s3.media_origin if s3 else ""

    def _for(self, doc: dict[str, Any]) -> MediaSource:
        if not doc.get("bucket"):
            return self.folder
        if self.s3 is None:
            raise HttpError(404, "this document lives in S3, which this server does not serve")
        return self.s3

    def serve(self, doc: dict[str, Any], request: Request) -> Response:
        return self._for(doc).serve(doc, request)

    def read(self, doc: dict[str, Any]) -> bytes:
        return self._for(doc).read(doc)

    def poster(self, doc: dict[str, Any], max_pixels: int) -> bytes | None:
        return self._for(doc).poster(doc, max_pixels)

    def url(self, doc: dict[str, Any]) -> str:
        return self._for(doc).url(doc)


__all__ = ["FolderMedia", "S3Media", "RoutedMedia", "ThumbnailCache", "parse_range", "render_thumbnail",
           "render_face", "video_poster"]
