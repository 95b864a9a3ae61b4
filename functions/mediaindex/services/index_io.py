"""Reads and writes of the index that several use cases share, written once: the documents of a batch of listed
files, the document a path, key or id names, and the compare-and-set retry loop."""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Sequence, TypeVar

from mediaindex.domain import document as docs
from mediaindex.domain.document import SearchDocument
from mediaindex.domain.errors import TransientError, VersionConflict
from mediaindex.ports import Index, Versioned

T = TypeVar("T")
_DOC_ID = re.compile(r"^[0-9a-f]{40}$")


def candidate_ids(key: str) -> list[str]:
    """The document ids a path, `s3://bucket/key`, `bucket/key` or document id may mean, most likely first."""
    if key.startswith("s3://"):
        bucket, _, name = key[len("s3://"):].partition("/")
        return [docs.document_id(bucket, name)]
    ids = [docs.document_id("", os.path.abspath(os.path.expanduser(key)))]
    if "/" in key and not key.startswith(("/", ".", "~")):
        bucket, _, name = key.partition("/")
        ids.append(docs.document_id(bucket, name))
    if _DOC_ID.match(key):
        ids.append(key)
    return ids


def find_document(index: Index, key: str) -> SearchDocument | None:
    """The document of the file `key` names (candidate_ids), or None."""
    for doc_id in candidate_ids(key):
        found = index.get(doc_id)
        if found is not None:
            return found.doc
    return None

WRITE_ATTEMPTS = 8


class _NotRead:
    """`current` was not read yet: the first attempt reads it."""


NOT_READ: Any = _NotRead()


def documents_by_id(index: Index, doc_ids: Sequence[str]) -> dict[str, SearchDocument]:
    """id -> document for the ids the index holds (one `get_many`: a page of a listing costs one round trip)."""
    if not doc_ids:
        return {}
    return {doc_id: found.doc for doc_id, found in index.get_many(list(doc_ids)).items()}


def compare_and_set(index: Index, doc_id: str, attempt: Callable[[Versioned | None], T], *,
                    current: Versioned | None = NOT_READ, attempts: int = WRITE_ATTEMPTS) -> T:
    """Call `attempt` with the document as stored now (None: there is none); it decides what to write and writes
    it against `current.version` (put or update_fields), or writes nothing. When someone else wrote meanwhile
    (VersionConflict), the document is read again and `attempt` decides again, at most `attempts` times; then a
    TransientError, for the caller's retry. `current`: the document when the caller has just read it."""
    for tries in range(attempts):
        if tries or current is NOT_READ:
            current = index.get(doc_id)
        try:
            return attempt(current)
        except VersionConflict:
            continue
    raise TransientError(f"document {doc_id} kept changing during {attempts} conditional writes")
