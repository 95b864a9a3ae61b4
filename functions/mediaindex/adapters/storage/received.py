"""Bytes as storage hands them over, chunk by chunk: hashed (SHA-256), counted against the size limit, and kept in
memory only while they are few. A file larger than IN_MEMORY_BYTES (a video; pictures are far smaller) is never
held whole: the folder adapter keeps the file itself, the S3 adapter writes the rest to an unnamed temporary file
(`tempfile.TemporaryFile`: in TMPDIR, /tmp on Lambda; gone when closed, or when the process dies)."""

from __future__ import annotations

import errno
import hashlib
import shutil
import tempfile
from typing import BinaryIO, Callable

from mediaindex.domain.errors import MediaTooLarge, TransientError
from mediaindex.ports import HEAD_BYTES, ObjectRef, StoredObject

# Files up to this size are kept in memory (a photo, read once); larger ones stay in a file.
IN_MEMORY_BYTES = 32 * 1024 * 1024
CHUNK = 1 << 20


class Received:
    """What has arrived so far. `spill` makes the file the bytes go to once there are more than IN_MEMORY_BYTES
    (the S3 adapter's temporary file); None: they are in a file already (a folder's), so they are only hashed."""

    def __init__(self, limit: int, too_large: str, spill: Callable[[], BinaryIO] | None = None) -> None:
        self.limit, self.too_large, self.spill = limit, too_large, spill
        self.sha = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.parts: list[bytes] | None = []
        self.file: BinaryIO | None = None

    def wanted(self) -> int:
        """How much to ask for next: never more than one byte past the limit."""
        return min(CHUNK, self.limit + 1 - self.size)

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise MediaTooLarge(self.too_large)
        self.sha.update(chunk)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[:HEAD_BYTES - len(self.head)]
        if self.parts is not None:
            self.parts.append(chunk)
            if self.size > IN_MEMORY_BYTES:  # too many to keep: into the file from here on
                if self.spill is not None:
                    self.file = self.spill()
                    for part in self.parts:
                        self.file.write(part)
                self.parts = None
        elif self.file is not None:
            self.file.write(chunk)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def stored(self, ref: ObjectRef, kept: BinaryIO | None, etag: str | None = None, content_type: str | None = None,
               last_modified: str | None = None) -> StoredObject:
        """The object: in memory when it was small, else in the spill file or in `kept` (the folder's own file,
        which the caller opened and hands over)."""
        sha = self.sha.hexdigest()
        if self.parts is not None:
            data = b"".join(self.parts)
            self.parts = None
            if kept is not None:
                kept.close()
            return StoredObject(ref, data, self.size, etag, content_type, last_modified, sha256=sha, head=self.head)
        file = self.file if self.file is not None else kept
        assert file is not None
        if kept is not None and file is not kept:
            kept.close()
        file.seek(0)
        return StoredObject(ref, None, self.size, etag, content_type, last_modified, file=file, sha256=sha,
                            head=self.head)


def temporary_file(size: int, where: str) -> BinaryIO:
    """An unnamed temporary file for an object of `size` bytes, refused before anything is written when the
    temporary folder has no room for it (a full disk is said as such)."""
    folder = tempfile.gettempdir()
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < size:
        raise TransientError(no_room(where, size, folder, free))
    return tempfile.TemporaryFile(prefix="mediaindex-", dir=folder)


def no_room(where: str, size: int, folder: str | None = None, free: int | None = None) -> str:
    folder = folder or tempfile.gettempdir()
    has = f" ({free:,} bytes free)" if free is not None else ""
    return (f"no room in the temporary folder {folder}{has} for the {size:,} bytes of {where}: the disk is full; "
            "free space there or set TMPDIR to a folder on a larger disk")


def is_full_disk(error: OSError) -> bool:
    return error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))

