"""Storage in a folder on this machine: the embedded default. A file's key is its absolute path; the bucket is "".

The etag is a fingerprint of modification time and size, so an unchanged file is recognised from a directory
listing alone, without reading it (domain/local_files.py: the watcher fingerprints and skips files the same way).

Symbolic links are followed to pictures and videos (a folder of links to photos kept elsewhere is indexed), and to
devices and pipes, which reading refuses and names without reading them. A link to any other regular file (one
planted to /etc/passwd or a key) is not followed: its `failed` document (LinkNotFollowed) says so and records
nothing of the target, and the listing gives it the link's own fingerprint, so it is not read again until the
link changes.
"""

from __future__ import annotations

import os
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator

from mediaindex.adapters.storage.received import Received
from mediaindex.domain.errors import (
    ConfigurationError, LinkNotFollowed, MediaTooLarge, ObjectNotFound, TransientError, UnsupportedMedia,
)
from mediaindex.domain.local_files import LOCAL_BUCKET, fingerprint, hidden, skipped
from mediaindex.media import sniff
from mediaindex.ports import HEAD_BYTES, ObjectInfo, ObjectRef, StoredObject

DEFAULT_MAX_OBJECT_BYTES = 4 * 1024 * 1024 * 1024


def ref_for(path: str | os.PathLike[str]) -> ObjectRef:
    return ObjectRef(LOCAL_BUCKET, str(Path(path).expanduser().absolute()))


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))
_CHUNK = 1 << 20


def open_regular_file(path: str | os.PathLike[str], limit: int,
                      links: bool = True) -> tuple[BinaryIO, os.stat_result]:
    """A regular file (symbolic links followed), open for reading, if it is not above `limit` by its size.
    Anything else is refused before it is opened: a FIFO would block the open for ever and /dev/zero never ends.
    `links` False: a symbolic link is followed only to a picture or a video (LinkNotFollowed otherwise, before the
    size is looked at: nothing of another file is told)."""
    shown = os.fsdecode(path)
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise ObjectNotFound(f"{shown} is a folder now: the file is gone")
        if not stat.S_ISREG(st.st_mode):
            kind = next((what for test, what in _KINDS if test(st.st_mode)), "not a regular file")
            raise UnsupportedMedia(f"{kind}, not a regular file: only regular files are read")
        link = None if links else _link_stat(path)
        if link is None and st.st_size > limit:
            raise MediaTooLarge(f"file is {st.st_size:,} bytes, above the {limit:,}-byte limit")
        # O_NONBLOCK: if a FIFO took the file's place since the stat, the open returns instead of waiting;
        # O_NOFOLLOW: a file that was no link a moment ago is not opened through one put in its place since
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        if not links and link is None:
            flags |= getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags)
        f = os.fdopen(fd, "rb", buffering=0)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise UnsupportedMedia("not a regular file: only regular files are read")
            if link is not None:
                if not _is_media(os.pread(fd, HEAD_BYTES, 0)):
                    raise LinkNotFollowed(LINK_NOT_FOLLOWED, etag=link_fingerprint(link))
                if st.st_size > limit:
                    raise MediaTooLarge(f"file is {st.st_size:,} bytes, above the {limit:,}-byte limit")
        except BaseException:
            f.close()
            raise
    except (FileNotFoundError, NotADirectoryError):
        raise ObjectNotFound(f"{shown} does not exist") from None
    except PermissionError:
        raise ConfigurationError(f"no permission to read {shown}: check the file's permissions") from None
    except OSError as e:
        raise TransientError(f"cannot read {shown}: {e}") from None
    return f, st


def read_regular_file(path: str | os.PathLike[str], limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file (symbolic links followed), at most `limit` of them (open_regular_file). The
    size is counted while reading rather than trusted from st_size (a device says 0, a growing file says less
    than it holds). For pictures and thumbnails: a video is read by FolderStorage.read, which keeps it in its file."""
    shown = os.fsdecode(path)
    f, st = open_regular_file(path, limit)
    with f:
        parts, total = [], 0
        try:
            while True:
                part = f.read(min(_CHUNK, limit + 1 - total))
                if not part:
                    break
                parts.append(part)
                total += len(part)
                if total > limit:
                    raise MediaTooLarge(f"file holds more than the {limit:,}-byte limit")
        except OSError as e:
            raise TransientError(f"cannot read {shown}: {e}") from None
    return b"".join(parts), st


# A link in an indexed folder may point anywhere (a link planted there to /etc/passwd, or to a key): it is followed
# only to what sniffs as a picture or a video. Any other target is not read past its first bytes, and its document
# records nothing of it: no size, hash or time (its etag is the link's own fingerprint).
LINK_NOT_FOLLOWED = ("a symbolic link to a file that is not a picture or a video: not followed (links are followed "
                     "to pictures and videos only)")


def _link_stat(path: str | os.PathLike[str]) -> os.stat_result | None:
    """The link's own stat when `path` is a symbolic link, else None."""
    st = os.lstat(path)
    return st if stat.S_ISLNK(st.st_mode) else None


def link_fingerprint(st: os.stat_result) -> str:
    """The etag of a link not followed: the link's own modification time, nothing of its target."""
    return f"link-{st.st_mtime_ns:x}"


def _is_media(head: bytes) -> bool:
    return sniff.sniff(head)[0] in (sniff.IMAGE, sniff.VIDEO)


def _link_to_other(path: str, link: os.stat_result) -> ObjectInfo | None:
    """The listing's entry for a link whose target is a regular file that is not a picture or a video (its own
    fingerprint, size 0), or None when the link is followed as any file is (a picture or a video, a device, a pipe:
    reading refuses those and says what they are, without reading them)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode) or _is_media(os.pread(fd, HEAD_BYTES, 0)):
                return None
        finally:
            os.close(fd)
    except OSError:
        return None  # broken or unreadable: listed as any file, and found gone or refused when read
    return ObjectInfo(ref=ObjectRef(LOCAL_BUCKET, path), size=0, etag=link_fingerprint(link), last_modified=None)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


class FolderStorage:
    def __init__(self, max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES, limit_setting: str | None = None,
                 any_link: bool = False) -> None:
        self.max_object_bytes = max_object_bytes
        self.limit_setting = limit_setting  # the setting that gave the limit, named when a file is refused
        self.any_link = any_link  # a link is followed to any regular file (a file named on the command line)

    def read(self, ref: ObjectRef) -> StoredObject:
        """The file, hashed as it is read; a large one (a video) stays in its file, open, and is never held in
        memory (adapters/storage/received.py). A link is followed only to a picture or a video."""
        try:
            f, st = open_regular_file(ref.key, self.max_object_bytes, links=self.any_link)
            received = Received(self.max_object_bytes, f"file holds more than the {self.max_object_bytes:,}-byte limit")
            try:
                while chunk := f.read(received.wanted()):
                    received.add(chunk)
            except OSError as e:
                f.close()
                raise TransientError(f"cannot read {os.fsdecode(ref.key)}: {e}") from None
            except BaseException:
                f.close()
                raise
        except MediaTooLarge as e:
            if self.limit_setting:
                raise MediaTooLarge(f"{e} ({self.limit_setting})") from None
            raise
        return received.stored(ref, f, etag=fingerprint(st), content_type=None, last_modified=_iso(st.st_mtime))

    def exists(self, ref: ObjectRef) -> bool:
        return Path(ref.key).is_file()

    def stat(self, ref: ObjectRef) -> ObjectInfo | None:
        try:
            st = os.lstat(ref.key)
            if stat.S_ISLNK(st.st_mode):
                other = _link_to_other(ref.key, st)
                if other is not None:
                    return other
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
