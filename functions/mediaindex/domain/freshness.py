"""The one rule for "is this file already indexed from these very bytes?", asked of a listing entry (bulk indexing,
backfill, reconcile) or of an event (the pipeline) before the file is read.

A file is unchanged when its document is `indexed` or `failed` (a bad file is not retried until it changes), holds
the same ETag and the same size, and was analysed alike (same analyzer, face vectors of the same face model). An
unknown ETag proves nothing: the file is indexed. A document that does not record its size cannot show the size is
the same, so it is indexed again too.

`analyzer` and `face_model` None mean "any": a caller that does not know them (a backfill on AWS hands the files
to a Lambda whose analyzer it does not run; reconcile only compares bytes) passes None, on purpose.
"""

from __future__ import annotations

from typing import Any

from mediaindex.domain import document as docs

SETTLED = (docs.INDEXED, docs.FAILED)  # the statuses a file is not analysed again in until its bytes change


def is_unchanged(doc: dict[str, Any] | None, *, etag: str | None, size: int | None, analyzer: str | None,
                 face_model: str | None) -> bool:
    """Does `doc` (None: the index has no document) already stand for the file listed with `etag` and `size`?"""
    return (
        doc is not None
        and doc.get("status") in SETTLED
        and etag is not None
        and doc.get("etag") == etag
        and size is not None
        and doc.get("size") == size
        and docs.analysed_alike(doc, analyzer, face_model)
    )
