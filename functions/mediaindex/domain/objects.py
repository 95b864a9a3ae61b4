"""Files in storage as every layer names them: where one lives and what a listing says of it. They are plain values,
kept on the ground floor so that the messages about files (domain/messages.py) and the ports can both use them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectRef:
    """Where a file lives: an S3 bucket and key, or a folder (its absolute path as `bucket`) and a path in it."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"{self.bucket}/{self.key}" if self.bucket else self.key


@dataclass
class ObjectInfo:
    """A listing entry: enough to decide whether a file needs indexing without reading it."""

    ref: ObjectRef
    size: int
    etag: str | None = None
    last_modified: str | None = None
