"""Rendered thumbnails and face crops on disk, named by document id and content: a changed file gets a new one."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path

from mediaindex.domain.document import SearchDocument

log = logging.getLogger(__name__)


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
        try:
            return self.path(doc, kind).read_bytes()
        except OSError:
            return None

    def put(self, doc: SearchDocument, kind: str, data: bytes) -> None:
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
