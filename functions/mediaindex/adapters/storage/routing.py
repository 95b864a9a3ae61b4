"""One adapter over both kinds of place a file lives: a folder for bucket "" (local keys are absolute paths), S3 for
a named bucket. `ByBucket` is the choice itself; storage (reading files to index) and media (showing them) both
route through it, so an index that holds both kinds works everywhere."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from mediaindex.domain.errors import ObjectNotFound
from mediaindex.ports import LocalFile, MediaFiles, MediaLink, ObjectInfo, ObjectRef, Storage, StoredObject

T = TypeVar("T")


class ByBucket(Generic[T]):
    """The folder part for bucket "", the S3 part for a named bucket; each built on first use when given as a
    factory. An S3 part that is None means this process serves no bucket: asking for one raises ObjectNotFound."""

    def __init__(self, folder: Callable[[], T], s3: Callable[[], T] | None) -> None:
        self._make = {"folder": folder, "s3": s3}
        self._made: dict[str, T] = {}

    def __call__(self, bucket: str) -> T:
        kind = "s3" if bucket else "folder"
        if kind not in self._made:
            make = self._make[kind]
            if make is None:
                raise ObjectNotFound("this document lives in S3, which this server does not serve")
            self._made[kind] = make()
        return self._made[kind]


def _given(part: T) -> Callable[[], T]:
    return lambda: part


def _folder_storage() -> Storage:
    from mediaindex.adapters.storage.folder import FolderStorage

    return FolderStorage()


def _s3_storage() -> Storage:
    from mediaindex.adapters.storage.s3 import S3Storage

    return S3Storage()


class RoutingStorage:
    def __init__(self, folder: Storage | None = None, s3: Storage | Callable[[], Storage] | None = None) -> None:
        # s3 may be what builds the S3 part on the first S3 read (boto3 is imported then, not before)
        make_s3 = s3 if callable(s3) else _given(s3) if s3 else _s3_storage
        self._for = ByBucket(_given(folder) if folder else _folder_storage, make_s3)

    def read(self, ref: ObjectRef) -> StoredObject:
        return self._for(ref.bucket).read(ref)

    def exists(self, ref: ObjectRef) -> bool:
        return self._for(ref.bucket).exists(ref)

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        return self._for(bucket).list(bucket, prefix)


class RoutingMedia:
    """Folder files for documents without a bucket, S3 for the others (a local server on a mixed index)."""

    def __init__(self, folder: MediaFiles, s3: MediaFiles | None = None) -> None:
        self._for = ByBucket(_given(folder), _given(s3) if s3 else None)
        self.media_origin = s3.media_origin if s3 else ""

    def locate(self, ref: ObjectRef, content_type: str | None = None) -> LocalFile | MediaLink:
        return self._for(ref.bucket).locate(ref, content_type)

    def read(self, ref: ObjectRef, max_bytes: int) -> bytes:
        return self._for(ref.bucket).read(ref, max_bytes)
