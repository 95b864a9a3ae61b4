"""Storage on Amazon S3 (or anything S3-compatible: boto3 honours AWS_ENDPOINT_URL_S3)."""

from __future__ import annotations

from typing import Any, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mediaindex.adapters.storage.received import Received, is_full_disk, no_room, temporary_file
from mediaindex.domain.errors import ArchivedMedia, ConfigurationError, MediaTooLarge, ObjectNotFound, TransientError
from mediaindex.ports import ObjectInfo, ObjectRef, StoredObject

# The largest object read: one above it is refused before it is fetched. The app passes MEDIAINDEX_MAX_VIDEO_BYTES
# instead (bootstrap.App.storage); this is for an S3Storage built without it.
DEFAULT_MAX_OBJECT_BYTES = 512 * 1024 * 1024

_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}
_ACCESS = {"AccessDenied", "403", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def s3_client() -> Any:
    return boto3.client("s3", config=Config(retries={"mode": "adaptive", "max_attempts": 8}))


class S3Storage:
    def __init__(self, client: Any = None, max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES) -> None:
        self._client = client
        self.max_object_bytes = max_object_bytes
        self._buckets_seen: set[str] = set()  # known to exist

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client()
        return self._client

    def read(self, ref: ObjectRef) -> StoredObject:
        """The object, hashed as it streams in; a large one (a video) goes to an unnamed temporary file instead of
        memory (adapters/storage/received.py), deleted when the object is closed."""
        where = f"s3://{ref.bucket}/{ref.key}"
        received: Received | None = None
        size = 0
        try:
            head = self.client.head_object(Bucket=ref.bucket, Key=ref.key)
            _check_not_archived(head, ref)
            size = int(head.get("ContentLength", 0))
            if size > self.max_object_bytes:
                raise MediaTooLarge(f"object is {size:,} bytes, above the {self.max_object_bytes:,}-byte limit")
            # IfMatch: if the object is overwritten between HEAD and GET we fail and retry rather than mixing them
            kwargs = {"IfMatch": head["ETag"]} if head.get("ETag") else {}
            response = self.client.get_object(Bucket=ref.bucket, Key=ref.key, **kwargs)
            # never more than the limit, whatever HEAD said: the object may have grown since
            received = Received(self.max_object_bytes,
                                f"object holds more than the {self.max_object_bytes:,}-byte limit",
                                spill=lambda: temporary_file(size, where))
            body = response["Body"]
            while chunk := body.read(received.wanted()):
                received.add(chunk)
            modified = response.get("LastModified")
            return received.stored(
                ref, None, etag=(response.get("ETag") or "").strip('"') or None,
                content_type=response.get("ContentType"),
                last_modified=modified.isoformat() if modified is not None else None,
            )
        except BaseException as e:
            if received is not None:
                received.close()  # a temporary file half written goes
            if isinstance(e, ClientError):
                raise self._checked(_translate(e, ref), ref) from None
            if isinstance(e, BotoCoreError):
                raise TransientError(f"S3 read of {where} failed: {e}") from None
            if isinstance(e, OSError) and is_full_disk(e):
                raise TransientError(no_room(where, size)) from None
            if isinstance(e, OSError):
                raise TransientError(f"S3 read of {where} failed: {e}") from None
            raise

    def exists(self, ref: ObjectRef) -> bool:
        try:
            self.client.head_object(Bucket=ref.bucket, Key=ref.key)
            return True
        except ClientError as e:
            error = self._checked(_translate(e, ref), ref)
            if isinstance(error, ObjectNotFound):
                return False
            raise error from None
        except BotoCoreError as e:
            raise TransientError(f"S3 HEAD of s3://{ref.bucket}/{ref.key} failed: {e}") from None

    def _checked(self, error: Exception, ref: ObjectRef) -> Exception:
        """A HEAD answers a bare 404 both for a missing key and for a missing bucket. A missing bucket is a
        configuration error to say loudly, not a file gone (which is silently skipped): ask once per bucket."""
        if not isinstance(error, ObjectNotFound) or ref.bucket in self._buckets_seen:
            return error
        try:
            self.client.head_bucket(Bucket=ref.bucket)
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                return _no_bucket(ref.bucket)
            return error  # 403 and the like: cannot tell, the key is taken as gone
        except BotoCoreError:
            return error
        self._buckets_seen.add(ref.bucket)
        return error

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    modified = item.get("LastModified")
                    yield ObjectInfo(
                        ref=ObjectRef(bucket, item["Key"]),
                        size=int(item.get("Size", 0)),
                        etag=(item.get("ETag") or "").strip('"') or None,
                        last_modified=modified.isoformat() if modified is not None else None,
                    )
        except ClientError as e:
            raise _translate(e, ObjectRef(bucket, prefix)) from None


# Storage classes whose objects must be restored before a GET (Glacier Instant Retrieval reads at once), and the
# archive tiers of Intelligent-Tiering (HEAD's ArchiveStatus).
_ARCHIVED = {"GLACIER", "DEEP_ARCHIVE"}


def _check_not_archived(head: dict, ref: ObjectRef) -> None:
    """Refuse, as a file that cannot be read, an archived object that is not restored (HEAD's Restore header is
    `ongoing-request="false", ...` once a restored copy is there): retrying would fail the same way until someone
    restores it, whose ObjectRestore:Completed event indexes it."""
    storage_class, archive = head.get("StorageClass"), head.get("ArchiveStatus")
    if storage_class not in _ARCHIVED and not archive:
        return
    if 'ongoing-request="false"' in str(head.get("Restore") or ""):
        return
    raise _archived(ref, archive or storage_class)


def _archived(ref: ObjectRef, where_kept: object) -> ArchivedMedia:
    return ArchivedMedia(f"s3://{ref.bucket}/{ref.key} is archived ({where_kept}) and not restored: restore it "
                         "(S3 RestoreObject) and it is indexed when the restore completes")


def _translate(error: ClientError, ref: ObjectRef) -> Exception:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    where = f"s3://{ref.bucket}/{ref.key}"
    if code == "InvalidObjectState":  # a GET of an archived object (HEAD did not say, or it was archived since)
        return _archived(ref, "its storage class")
    if code in _NOT_FOUND:
        return ObjectNotFound(f"{where} does not exist")
    if code in ("PreconditionFailed", "412"):
        return TransientError(f"{where} changed while it was being read; will read again")
    if code == "NoSuchBucket":
        return _no_bucket(ref.bucket)
    if code in _ACCESS:
        return ConfigurationError(
            f"S3 refused access to {where} ({code}): check the bucket name, credentials and s3:GetObject permission"
        )
    if code in ("SlowDown", "Throttling", "RequestTimeout", "ServiceUnavailable", "InternalError") or (status or 0) >= 500:
        return TransientError(f"S3 is throttling or unavailable for {where} ({code})")
    return TransientError(f"S3 error for {where}: {code} {error}")


def _no_bucket(bucket: str) -> ConfigurationError:
    return ConfigurationError(
        f"S3 bucket {bucket!r} does not exist: check the bucket name (the event's, or MEDIAINDEX_MEDIA_BUCKET), "
        "AWS_REGION and AWS_ENDPOINT_URL_S3"
    )
