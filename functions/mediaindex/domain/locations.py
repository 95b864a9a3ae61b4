"""Where files are named on the command line and in events: `s3://bucket/prefix` addresses."""

from __future__ import annotations

from mediaindex.domain.errors import ConfigurationError

S3_SCHEME = "s3://"


def is_s3_uri(text: str) -> bool:
    return text.startswith(S3_SCHEME)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix"); the prefix may be empty."""
    if not is_s3_uri(uri):
        raise ConfigurationError(f"{uri!r} is not an s3:// address")
    bucket, _, prefix = uri[len(S3_SCHEME):].partition("/")
    if not bucket:
        raise ConfigurationError(f"{uri!r} names no bucket: write s3://bucket[/prefix]")
    return bucket, prefix
