"""Rendered thumbnails and face crops on disk, named by document id and content: a changed file gets a new one."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from mediaindex.adapters.own_files import read_regular, write_whole
from mediaindex.domain.document import SearchDocument

log = logging.getLogger(__name__)
MAX_ENTRY = 16 << 20  # bytes: a thumbnail or preview is far smaller; anything larger is not one of ours


class ThumbnailCache:
    """Rendered JPEGs on disk, named by document id and content: a changed file gets a new thumbnail."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def path(self, doc: SearchDocument, kind: str) -> Path:
        version = doc.get("content_sha256") or doc.get("etag") or doc.get("indexed_at") or ""
        digest = hashlib.sha256(f"{doc['id']}\x00{version}\x00{kind}".encode()).hexdigest()[:32]
        return self.folder / digest[:2] / f"{digest}.jpg"

    def get(self, doc: SearchDocument, kind: str) -> bytes | None:
        """The cached JPEG; None when there is none, or something other than a file of a sane size is in its place
        (a named pipe is never opened for reading, which would wait for ever): rendered again."""
        try:
            return read_regular(self.path(doc, kind), MAX_ENTRY)
        except (OSError, ValueError):
            return None

    def put(self, doc: SearchDocument, kind: str, data: bytes) -> None:
        try:
            write_whole(self.path(doc, kind), data)  # a reader never sees half a file
        except OSError as e:  # a read-only cache folder, a full disk, a folder in the entry's place: only costs speed
            log.warning("thumbnail not cached: %s", e)


def home_cache(home: Path) -> ThumbnailCache:
    """The cache of a MEDIAINDEX_HOME: where `mediaindex serve` reads renderings and indexing leaves thumbnails."""
    return ThumbnailCache(home / "thumbnails")
