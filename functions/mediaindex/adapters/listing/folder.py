"""The ListingSource port on a folder, through the Storage port: what `backfill` and `reconcile` list here."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from mediaindex.ports import Listed, Storage


class FolderSource:
    """The ListingSource port on a folder (through the Storage port): every file under it, sorted by path, so that
    "after this path" is a resume point as on S3."""

    bucket = ""

    def __init__(self, storage: Storage, folder: str, page_size: int = 1000) -> None:
        self.storage, self.folder, self.page_size = storage, str(Path(folder).expanduser().absolute()), page_size

    def describe(self) -> str:
        return self.folder

    def pages(self, position: str | None) -> Iterator[list[Listed]]:
        infos = sorted(self.storage.list("", self.folder), key=lambda i: i.ref.key)
        page: list[Listed] = []
        for info in infos:
            if position is not None and info.ref.key <= position:
                continue
            page.append(Listed(info, info.ref.key))
            if len(page) >= self.page_size:
                yield page
                page = []
        if page:
            yield page
