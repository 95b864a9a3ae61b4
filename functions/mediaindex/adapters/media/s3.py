"""S3 objects, for viewing: the browser is sent to a short-lived presigned GET, so the bytes never pass through
Lambda (whose responses are capped at 6 MB). Only objects of the served buckets are handed out."""

from __future__ import annotations

from typing import Any, Sequence

from mediaindex.adapters.storage.s3 import S3Storage
from mediaindex.domain.errors import AccessRefused
from mediaindex.media import sniff
from mediaindex.ports import LocalFile, MediaLink, ObjectRef

PRESIGN_SECONDS = 300


class S3Media:
    def __init__(self, client: Any, buckets: Sequence[str], expires: int = PRESIGN_SECONDS) -> None:
        self.client = client
        self.buckets = [b for b in buckets if b]
        self.expires = expires
        origins = set()
        for bucket in self.buckets:  # the bucket's own endpoint, as presigning names it
            url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "x"}, ExpiresIn=60)
            scheme, _, rest = url.partition("://")
            origins.add(f"{scheme}://{rest.split('/', 1)[0]}")
        self.media_origin = " ".join(sorted(origins))

    def _checked(self, ref: ObjectRef) -> ObjectRef:
        if ref.bucket not in self.buckets:
            raise AccessRefused("this document's bucket is not one this API serves")
        return ref

    def locate(self, ref: ObjectRef, content_type: str | None = None) -> LocalFile | MediaLink:
        ref = self._checked(ref)
        params: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key, "ResponseContentDisposition": "inline"}
        if sniff.is_known_content_type(content_type):
            params["ResponseContentType"] = content_type
        return MediaLink(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.expires))

    def read(self, ref: ObjectRef, max_bytes: int) -> bytes:
        with S3Storage(self.client, max_object_bytes=max_bytes).read(self._checked(ref)) as obj:
            return obj.data
