"""Rendered thumbnails and face crops on disk, named by document id and content: a changed file gets a new one."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path

from mediaindex.adapters.own_files import read_regular
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
        target = self.path(doc, kind)
        tmp = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # write then rename: a reader never sees half a file
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except OSError as e:  # a read-only cache folder, a full disk, a folder in the entry's place: only costs speed
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            log.warning("thumbnail not cached: %s", e)
