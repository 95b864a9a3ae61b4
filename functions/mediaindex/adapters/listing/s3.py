"""A bucket listed with ListObjectsV2, in key order: the ListingSource port on S3."""

from __future__ import annotations

from typing import Any, Iterator

from botocore.exceptions import ClientError

from mediaindex.domain.errors import ConfigurationError, TransientError
from mediaindex.ports import Listed, ObjectInfo, ObjectRef


class S3Source:
    """ListObjectsV2 in key order; resumes with StartAfter=<last key handed over>."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", page_size: int = 1000) -> None:
        self.client, self.bucket, self.prefix, self.page_size = client, bucket, prefix, page_size

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def pages(self, position: str | None) -> Iterator[list[Listed]]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix, "MaxKeys": self.page_size}
        if position:
            kwargs["StartAfter"] = position
        while True:
            try:
                page = self.client.list_objects_v2(**kwargs)
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code", "")
                if code in ("NoSuchBucket", "AccessDenied", "403"):
                    raise ConfigurationError(f"cannot list s3://{self.bucket}/{self.prefix} ({code}): check the "
                                             "bucket name and s3:ListBucket permission") from None
                raise TransientError(f"listing s3://{self.bucket}/{self.prefix} failed: {code}") from None
            items = []
            for item in page.get("Contents", []):
                modified = item.get("LastModified")
                info = ObjectInfo(
                    ref=ObjectRef(self.bucket, item["Key"]), size=int(item.get("Size", 0)),
                    etag=(item.get("ETag") or "").strip('"') or None,
                    last_modified=modified.isoformat() if modified is not None else None,
                )
                items.append(Listed(info, item["Key"], item.get("StorageClass")))
            if items:
                yield items
            if not page.get("IsTruncated"):
                return
            kwargs.pop("StartAfter", None)
            kwargs["ContinuationToken"] = page["NextContinuationToken"]
