"""Files of a folder on this machine, for viewing. A file is handed out only when no symlink lies on its indexed
path or, when the server was given `roots`, when its real path stays inside one of them; and only when it sniffs
as an image or a video."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from mediaindex.adapters.storage.folder import read_regular_file
from mediaindex.domain.errors import AccessRefused, ObjectNotFound, UnsupportedMedia
from mediaindex.media import sniff
from mediaindex.ports import LocalFile, MediaLink, ObjectRef


class FolderMedia:
    media_origin = ""

    def __init__(self, roots: Sequence[Path] = ()) -> None:
        self.roots = [Path(r).expanduser().resolve() for r in roots]

    def path_of(self, ref: ObjectRef) -> Path:
        """The real file behind a folder document's key. Without `roots`, no symlink may lie anywhere on the indexed
        path (a link planted in an indexed folder could point anywhere); with `roots`, symlinks are followed but the
        real path must stay inside one of them."""
        key = ref.key
        if ref.bucket or "\x00" in key or not os.path.isabs(key):
            raise ObjectNotFound("this document is not a file on this machine")
        lexical = Path(os.path.normpath(key))  # `mediaindex index ../photos` writes keys with .. in them
        try:
            real = Path(key).resolve(strict=True)
        except (OSError, RuntimeError):
            raise ObjectNotFound("the indexed file is gone from its folder") from None
        if self.roots:
            allowed = any(real == root or root in real.parents for root in self.roots)
        else:
            allowed = real == lexical and not any(p.is_symlink() for p in (lexical, *lexical.parents))
        if not allowed:
            raise AccessRefused("the indexed path leads outside the served folders (through a symlink): not served; "
                                "start the server with --root DIR to allow files whose real path is in DIR")
        if not real.is_file():
            raise ObjectNotFound("the indexed path is not a regular file")
        return real

    def locate(self, ref: ObjectRef, content_type: str | None = None) -> LocalFile | MediaLink:
        path = self.path_of(ref)
        with path.open("rb") as f:
            media_type, fmt = sniff.sniff(f.read(512))
        if media_type not in (sniff.IMAGE, sniff.VIDEO):
            raise UnsupportedMedia("the indexed file is not an image or a video any more: it is not served")
        return LocalFile(path, sniff.content_type(fmt), media_type)

    def read(self, ref: ObjectRef, max_bytes: int) -> bytes:
        return read_regular_file(self.path_of(ref), max_bytes)[0]
