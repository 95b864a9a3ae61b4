"""Reads and writes of the index that several use cases share, written once: the documents of a batch of listed
files, and the compare-and-set retry loop."""

from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar

from mediaindex.domain.document import SearchDocument
from mediaindex.domain.errors import TransientError, VersionConflict
from mediaindex.ports import Index, Versioned

T = TypeVar("T")

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
