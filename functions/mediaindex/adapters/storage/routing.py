"""One Storage over both kinds: a folder for bucket "" (local keys are absolute paths), S3 for a named bucket, so a
pipeline can serve an index that holds both (people re-matching, bulk runs mixing folders and s3:// prefixes)."""

from __future__ import annotations

from typing import Iterator

from mediaindex.ports import ObjectInfo, ObjectRef, Storage, StoredObject


class RoutingStorage:
    def __init__(self, folder: Storage | None = None, s3: Storage | None = None) -> None:
        self._folder, self._s3 = folder, s3

    def _for(self, bucket: str) -> Storage:
        if not bucket:
            if self._folder is None:
                from mediaindex.adapters.storage.folder import FolderStorage

                self._folder = FolderStorage()
            return self._folder
        if self._s3 is None:
            from mediaindex.adapters.storage.s3 import S3Storage

            self._s3 = S3Storage()
        return self._s3

    def read(self, ref: ObjectRef) -> StoredObject:
        return self._for(ref.bucket).read(ref)

    def exists(self, ref: ObjectRef) -> bool:
        return self._for(ref.bucket).exists(ref)

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        return self._for(bucket).list(bucket, prefix)
