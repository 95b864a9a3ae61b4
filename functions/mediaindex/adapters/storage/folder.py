"""Storage in a folder on this machine: the embedded default. A file's key is its absolute path; the bucket is "".

The etag is a fingerprint of modification time and size, so an unchanged file is recognised from a directory
listing alone, without reading it (domain/local_files.py: the watcher fingerprints and skips files the same way).
"""

from __future__ import annotations

import os
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from mediaindex.domain.errors import ConfigurationError, MediaTooLarge, ObjectNotFound, TransientError, UnsupportedMedia
from mediaindex.domain.local_files import LOCAL_BUCKET, fingerprint, hidden, skipped
from mediaindex.ports import ObjectInfo, ObjectRef, StoredObject

DEFAULT_MAX_OBJECT_BYTES = 4 * 1024 * 1024 * 1024


def ref_for(path: str | os.PathLike[str]) -> ObjectRef:
    return ObjectRef(LOCAL_BUCKET, str(Path(path).expanduser().absolute()))


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))
_CHUNK = 1 << 20


def read_regular_file(path: str | os.PathLike[str], limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file (symbolic links followed), at most `limit` of them. Anything else is refused
    before it is opened: a FIFO would block the open for ever and /dev/zero never ends. The size is counted while
    reading rather than trusted from st_size (a device says 0, a growing file says less than it holds)."""
    shown = os.fsdecode(path)
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise ObjectNotFound(f"{shown} is a folder now: the file is gone")
        if not stat.S_ISREG(st.st_mode):
            kind = next((what for test, what in _KINDS if test(st.st_mode)), "not a regular file")
            raise UnsupportedMedia(f"{kind}, not a regular file: only regular files are read")
        if st.st_size > limit:
            raise MediaTooLarge(f"file is {st.st_size:,} bytes, above the {limit:,}-byte limit")
        # O_NONBLOCK: if a FIFO took the file's place since the stat, the open returns instead of waiting
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb", buffering=0) as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise UnsupportedMedia("not a regular file: only regular files are read")
            parts, total = [], 0
            while True:
                part = f.read(min(_CHUNK, limit + 1 - total))
                if not part:
                    break
                parts.append(part)
                total += len(part)
                if total > limit:
                    raise MediaTooLarge(f"file holds more than the {limit:,}-byte limit")
    except (FileNotFoundError, NotADirectoryError):
        raise ObjectNotFound(f"{shown} does not exist") from None
    except PermissionError:
        raise ConfigurationError(f"no permission to read {shown}: check the file's permissions") from None
    except OSError as e:
        raise TransientError(f"cannot read {shown}: {e}") from None
    return b"".join(parts), st


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


class FolderStorage:
    def __init__(self, max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES, limit_setting: str | None = None) -> None:
        self.max_object_bytes = max_object_bytes
        self.limit_setting = limit_setting  # the setting that gave the limit, named when a file is refused

    def read(self, ref: ObjectRef) -> StoredObject:
        try:
            data, st = read_regular_file(ref.key, self.max_object_bytes)
        except MediaTooLarge as e:
            if self.limit_setting:
                raise MediaTooLarge(f"{e} ({self.limit_setting})") from None
            raise
        return StoredObject(
            ref=ref, data=data, size=len(data), etag=fingerprint(st), content_type=None,
            last_modified=_iso(st.st_mtime),
        )

    def exists(self, ref: ObjectRef) -> bool:
        return Path(ref.key).is_file()

    def stat(self, ref: ObjectRef) -> ObjectInfo | None:
        try:
            st = os.stat(ref.key)
        except OSError:
            return None
        return ObjectInfo(ref=ref, size=st.st_size, etag=fingerprint(st), last_modified=_iso(st.st_mtime))

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every file under `prefix` (a file or a folder), recursively, in a stable order; hidden files skipped."""
        root = Path(prefix or ".").expanduser().absolute()
        if root.exists() and not root.is_dir():  # one file (a FIFO or device too: its document says why not read)
            info = self.stat(ObjectRef(LOCAL_BUCKET, str(root)))
            if info:
                yield info
            return
        if not root.is_dir():
            raise ObjectNotFound(f"{root} is neither a file nor a folder")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not hidden(d))
            for name in sorted(filenames):
                if skipped(name):
                    continue
                info = self.stat(ObjectRef(LOCAL_BUCKET, os.path.join(dirpath, name)))
                if info:
                    yield info
