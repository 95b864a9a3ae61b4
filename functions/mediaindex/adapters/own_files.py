"""Opening the files mediaindex writes for itself (the index file, the saved query side, the face graph, thumbnail
cache entries, the workers' log) as regular files only.

Something else at their place (a named pipe, a device, a socket) would block an open for ever or never end; each
caller treats the refusal as it treats any unreadable copy of its file: a cache is built again, the index file is
reported with words that say what is there.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
import tempfile
from typing import IO, Any

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))
_FLAGS = {"rb": os.O_RDONLY, "r+b": os.O_RDWR, "ab": os.O_WRONLY | os.O_APPEND | os.O_CREAT}


class NotRegularFile(OSError):
    """A path of ours holds something other than a regular file."""


def kind(mode: int) -> str:
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def check_regular(path: str | os.PathLike[str], st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(errno.EINVAL, f"{os.fsdecode(path)} is {kind(st.st_mode)}, not a regular file")


def open_regular(path: str | os.PathLike[str], mode: str = "rb") -> IO[Any]:
    """The file opened in `mode` ("rb", "r+b" or "ab"), if it is a regular file (symbolic links followed); raises
    NotRegularFile otherwise, FileNotFoundError and other OSErrors as open does. Never blocks on a named pipe:
    looked at before the open, opened non-blocking, and looked at again through the descriptor (something may have
    taken the file's place in between)."""
    try:
        check_regular(path, os.stat(path))
    except FileNotFoundError:
        if "a" not in mode:
            raise
    fd = os.open(path, _FLAGS[mode] | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        check_regular(path, os.fstat(fd))
        os.set_blocking(fd, True)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of ours, refused (ValueError) beyond `limit` bytes."""
    with open_regular(path) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{os.fsdecode(path)} holds more than {limit:,} bytes")
    return data


FULL_BELOW = 1 << 20  # free bytes under which a disk counts as full (SQLite needs 32 KiB for a reader's -shm alone)


def disk_full(e: BaseException, path: str | os.PathLike[str] | None = None) -> bool:
    """Is this error a full disk (or an exhausted quota), from SQLite or the OS? Not damage: nothing was lost. With
    `path`, a "disk I/O error" (what SQLite says when it cannot grow the shared-memory file of a reader) counts too
    when the disk holding `path` has less than FULL_BELOW bytes free."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(e).lower()
    if "database or disk is full" in text or "no space left on device" in text or "disk quota" in text:
        return True
    return path is not None and "disk i/o error" in text and free_bytes(path) < FULL_BELOW


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes the disk holding `path` (a file or a folder, existing or not) has free for this user; a large number
    when it cannot be told."""
    folder = os.path.abspath(os.fspath(path))
    while folder and not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return 1 << 62
    return st.f_bavail * st.f_frsize


def write_whole(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` (its folder made if need be) through a temporary file beside it, renamed over it: a
    reader, in this process or another, sees the old file or the whole new one, never half of one. OSError (a
    read-only folder, a full disk, a folder in the file's place) is raised with no temporary file left behind."""
    folder = os.path.dirname(os.fspath(path)) or "."
    temporary = None
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass
        raise


def remove_abandoned(path: str) -> None:
    """Remove `<path>.<pid>.tmp` files whose saving process is gone (killed mid-save); a live process's, or another
    user's, are left alone."""
    if os.name != "posix":  # os.kill(pid, 0) asks whether a process lives only there (elsewhere it ends it)
        return
    for leftover in glob.glob(f"{glob.escape(path)}.*.tmp"):
        pid = leftover[len(path) + 1:-len(".tmp")]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                os.unlink(leftover)
            except OSError:
                pass
        except (OSError, OverflowError):
            pass  # alive (another user's process), or no process id at all: not ours to remove
