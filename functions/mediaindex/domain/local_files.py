"""The rules of a folder on this machine used as storage (the embedded default), shared by the folder adapter that
lists and reads it and by the watcher that follows its changes, so both skip the same files and fingerprint them
the same way."""

from __future__ import annotations

import os

LOCAL_BUCKET = ""  # a folder's files have no bucket: a file's key is its absolute path

# Files that are never media and would only produce `failed` documents.
IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
# Sidecars that phones, cameras and editors write beside a photo or video: its edits (.AAE from an iPhone), its
# metadata (.XMP from Lightroom, darktable) or a small preview (.THM from a camera, a JPEG standing for the video).
# They describe a file; they are not one to search.
SIDECAR_SUFFIXES = frozenset({".aae", ".xmp", ".thm"})


def hidden(name: str) -> bool:
    """Hidden files and folders (editors' swap files too) are never indexed."""
    return name.startswith(".")


def skipped(name: str) -> bool:
    """A file name the listing skips: hidden, OS clutter, or a sidecar."""
    return hidden(name) or name in IGNORED_NAMES or os.path.splitext(name)[1].lower() in SIDECAR_SUFFIXES


def ignored(path: str, root: str) -> bool:
    """A path under `root` that the listing skips: the file or a folder on its way is hidden, or it is OS clutter."""
    parts = os.path.relpath(path, root).split(os.sep)
    return any(hidden(p) for p in parts if p not in (".", "..")) or skipped(parts[-1])


def fingerprint(st: os.stat_result) -> str:
    """A file's etag: its modification time and size, so an unchanged file is recognised from a directory listing
    alone, without reading it."""
    return f"{st.st_mtime_ns:x}-{st.st_size:x}"
