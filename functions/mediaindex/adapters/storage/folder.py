"""Storage in a folder on this machine: the embedded default. A file's key is its absolute path; the bucket is "".

The etag is a fingerprint of modification time and size, so an unchanged file is recognised from a directory
listing alone, without reading it.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from mediaindex.domain.errors import ConfigurationError, MediaTooLarge, ObjectNotFound, TransientError
from mediaindex.ports import ObjectInfo, ObjectRef, StoredObject

LOCAL_BUCKET = ""
DEFAULT_MAX_OBJECT_BYTES = 4 * 1024 * 1024 * 1024

# Files that are never media and would only produce `failed` documents.
_IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


def ref_for(path: str | os.PathLike[str]) -> ObjectRef:
    return ObjectRef(LOCAL_BUCKET, str(Path(path).expanduser().absolute()))


def fingerprint(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns:x}-{st.st_size:x}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


class FolderStorage:
    def __init__(self, max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES) -> None:
        self.max_object_bytes = max_object_bytes

    def read(self, ref: ObjectRef) -> StoredObject:
        path = Path(ref.key)
        try:
            with path.open("rb") as f:
                st = os.fstat(f.fileno())
                if st.st_size > self.max_object_bytes:
                    raise MediaTooLarge(f"file is {st.st_size:,} bytes, above the {self.max_object_bytes:,}-byte limit")
                data = f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(f"{path} does not exist") from None
        except PermissionError:
            raise ConfigurationError(f"no permission to read {path}: check the file's permissions") from None
        except OSError as e:
            raise TransientError(f"cannot read {path}: {e}") from None
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
        if root.is_file():
            info = self.stat(ObjectRef(LOCAL_BUCKET, str(root)))
            if info:
                yield info
            return
        if not root.is_dir():
            raise ObjectNotFound(f"{root} is neither a file nor a folder")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or name in _IGNORED_NAMES:
                    continue
                info = self.stat(ObjectRef(LOCAL_BUCKET, os.path.join(dirpath, name)))
                if info:
                    yield info
