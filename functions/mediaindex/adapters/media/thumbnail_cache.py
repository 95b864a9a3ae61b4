"""Rendered thumbnails, previews and face crops on disk, a folder per document: a changed file gets new ones, a removed
file takes its folder along."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import threading
from pathlib import Path

from mediaindex.adapters.own_files import read_regular, write_whole
from mediaindex.domain.document import SearchDocument

log = logging.getLogger(__name__)
MAX_ENTRY = 16 << 20  # bytes: a thumbnail or preview is far smaller; anything larger is not one of ours


class ThumbnailCache:
    """Rendered JPEGs on disk, a folder per document, each named by the file's content and the kind of rendering: a
    changed file gets new renderings and its old ones go; a file that leaves the index takes its folder along."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def _doc_folder(self, doc_id: str) -> Path:
        digest = hashlib.sha256(doc_id.encode()).hexdigest()[:32]
        return self.folder / digest[:2] / digest

    def path(self, doc: SearchDocument, kind: str) -> Path:
        version = doc.get("content_sha256") or doc.get("etag") or doc.get("indexed_at") or ""
        return self._doc_folder(doc["id"]) / f"{_digest(str(version))}-{_digest(kind)}.jpg"

    def get(self, doc: SearchDocument, kind: str) -> bytes | None:
        """The cached JPEG; None when there is none, or something other than a file of a sane size is in its place
        (a named pipe is never opened for reading, which would wait for ever): rendered again."""
        try:
            return read_regular(self.path(doc, kind), MAX_ENTRY)
        except (OSError, ValueError):
            return None

    def put(self, doc: SearchDocument, kind: str, data: bytes) -> None:
        entry = self.path(doc, kind)
        try:
            write_whole(entry, data)  # a reader never sees half a file
        except OSError as e:  # a read-only cache folder, a full disk, a folder in the entry's place: only costs speed
            log.warning("thumbnail not cached: %s", e)
            return
        # the renderings of what the file held before are never asked for again
        current = entry.name.split("-")[0] + "-"
        for other in entry.parent.glob("*.jpg"):
            if not other.name.startswith(current):
                with contextlib.suppress(OSError):  # gone already, or a folder in its place
                    other.unlink()

    def forget(self, doc_id: str) -> None:
        """Every rendering of a document that left the index."""
        shutil.rmtree(self._doc_folder(doc_id), ignore_errors=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def home_cache(home: Path) -> ThumbnailCache:
    """The cache of a MEDIAINDEX_HOME: where `mediaindex serve` reads renderings and indexing leaves thumbnails."""
    return ThumbnailCache(home / "thumbnails")
