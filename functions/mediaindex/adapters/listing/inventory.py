"""An S3 Inventory report read as a listing (the ListingSource port): for buckets too large to list."""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any, Iterator
from urllib.parse import unquote_plus

from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.locations import parse_s3_uri
from mediaindex.ports import Listed, ObjectInfo, ObjectRef


class InventorySource:
    """An S3 Inventory report: manifest.json names CSV.gz data files (in the destination bucket) whose columns are
    given by `fileSchema`. Keys in the CSV are URL-encoded. Resumes by "inventory:<file number>:<rows done>"."""

    def __init__(self, client: Any, manifest_uri: str, prefix: str = "", page_size: int = 1000) -> None:
        self.client, self.prefix, self.page_size = client, prefix, page_size
        self.manifest_uri = manifest_uri
        manifest_bucket, manifest_key = parse_s3_uri(manifest_uri)
        try:
            body = client.get_object(Bucket=manifest_bucket, Key=manifest_key)["Body"].read()
            self.manifest = json.loads(body)
        except ValueError as e:
            raise ConfigurationError(f"{manifest_uri} is not a JSON inventory manifest: {e}") from None
        except Exception as e:  # noqa: BLE001 - botocore's errors: the manifest is unreadable, say which
            raise ConfigurationError(f"cannot read the inventory manifest {manifest_uri}: {e}") from None
        fmt = str(self.manifest.get("fileFormat", "")).upper()
        if fmt != "CSV":
            raise ConfigurationError(f"inventory format {fmt or '?'}: only CSV inventories can be read (not ORC/Parquet)")
        self.bucket = self.manifest["sourceBucket"]
        self.columns = [c.strip() for c in self.manifest["fileSchema"].split(",")]
        for needed in ("Key", "Size"):
            if needed not in self.columns:
                raise ConfigurationError(f"inventory schema lacks {needed}: {self.manifest['fileSchema']}")
        destination = str(self.manifest.get("destinationBucket", ""))
        self.data_bucket = destination.split(":::")[-1] if destination else manifest_bucket
        self.files = [f["key"] for f in self.manifest.get("files", [])]

    def describe(self) -> str:
        return f"inventory {self.manifest_uri} of s3://{self.bucket}/{self.prefix}"

    def rows(self, file_key: str) -> Iterator[dict[str, str]]:
        body = self.client.get_object(Bucket=self.data_bucket, Key=file_key)["Body"].read()
        text = gzip.decompress(body).decode("utf-8") if file_key.endswith(".gz") else body.decode("utf-8")
        for row in csv.reader(io.StringIO(text)):
            if row:
                yield dict(zip(self.columns, row))

    def pages(self, position: str | None) -> Iterator[list[Listed]]:
        start_file, start_row = 0, 0
        if position:
            try:
                _, f, r = position.split(":")
                start_file, start_row = int(f), int(r)
            except ValueError:
                raise ConfigurationError(f"checkpoint {position!r} is not an inventory position") from None
        page: list[Listed] = []
        for number in range(start_file, len(self.files)):
            for row_number, row in enumerate(self.rows(self.files[number]), start=1):
                if number == start_file and row_number <= start_row:
                    continue
                listed = self._listed(row, f"inventory:{number}:{row_number}")
                if listed is None:
                    continue
                page.append(listed)
                if len(page) >= self.page_size:
                    yield page
                    page = []
        if page:
            yield page

    def _listed(self, row: dict[str, str], position: str) -> Listed | None:
        # versioned inventories list every version and delete markers: only the current object matters
        if row.get("IsLatest", "true").lower() != "true" or row.get("IsDeleteMarker", "false").lower() == "true":
            return None
        key = unquote_plus(row["Key"])  # URL-encoded as in event notifications: space is "+", "+" is %2B
        if not key.startswith(self.prefix):
            return None
        size = row.get("Size") or "0"
        info = ObjectInfo(
            ref=ObjectRef(row.get("Bucket") or self.bucket, key), size=int(size),
            etag=(row.get("ETag") or "").strip('"') or None, last_modified=row.get("LastModifiedDate") or None,
        )
        return Listed(info, position, row.get("StorageClass") or None)
