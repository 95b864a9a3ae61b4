"""The one rule for "is this file already indexed from these very bytes?", asked of a listing entry (bulk indexing,
backfill, reconcile) or of an event (the pipeline) before the file is read.

A file is unchanged when its document is `indexed` or `failed` (a bad file is not retried until it changes), holds
the same ETag and the same size, and was analysed alike (same analyzer, face vectors of the same face model). An
unknown ETag proves nothing: the file is indexed. A document that does not record its size cannot show the size is
the same, so it is indexed again too.

A file is also analysed again, once, when text is now read (`reads_text`) and its document looks like a screenshot
(no camera, a PNG or a screen's size) but was analysed before text was read by default: its `model_versions` has
neither `text` (it was read) nor `text_gate` (the gate decided). So `mediaindex index` after the upgrade reads the
screenshots of a library already indexed, and no other file.

`analyzer` and `face_model` None mean "any": a caller that does not know them (a backfill on AWS hands the files
to a Lambda whose analyzer it does not run; reconcile only compares bytes) passes None, on purpose.
"""

from __future__ import annotations


from typing import TypedDict

from mediaindex.domain import document as docs
from mediaindex.domain.document import SearchDocument
from mediaindex.domain.kinds import screen_sized

SETTLED = (docs.INDEXED, docs.FAILED)  # the statuses a file is not analysed again in until its bytes change


class Fingerprint(TypedDict):
    """What of a document says which bytes it stands for (reconcile keeps only this of every document)."""

    status: str | None
    etag: str | None
    size: int | None


def fingerprint(doc: SearchDocument) -> Fingerprint:
    return {"status": doc.get("status"), "etag": doc.get("etag"), "size": doc.get("size")}


def holds_bytes(known: Fingerprint, *, etag: str | None, size: int | None) -> bool:
    """Was the document made (indexed or failed) from the file listed with `etag` and `size`?"""
    return (known["status"] in SETTLED and etag is not None and known["etag"] == etag and size is not None
            and known["size"] == size)


def is_unchanged(doc: SearchDocument | None, *, etag: str | None, size: int | None, analyzer: str | None,
                 face_model: str | None, reads_text: bool = False, meaning_model: str | None = None) -> bool:
    """Does `doc` (None: the index has no document) already stand for the file listed with `etag` and `size`?
    With `meaning_model` (search by description is on), a picture without a vector of that model is not."""
    if reads_text and doc is not None and unread_screenshot(doc):
        return False
    if meaning_model is not None and doc is not None and docs.needs_meaning(doc, meaning_model):
        return False
    return (
        doc is not None
        and holds_bytes(fingerprint(doc), etag=etag, size=size)
        and docs.analysed_alike(doc, analyzer, face_model)
    )


def unread_screenshot(doc: SearchDocument) -> bool:
    """An indexed image that looks like a screenshot (no camera; a PNG or a screen's size) and was analysed before
    text was read by default (neither `text` nor `text_gate` in its model versions)."""
    if doc.get("status") != docs.INDEXED or doc.get("media_type") != "image" or doc.get("camera"):
        return False
    versions = doc.get("model_versions") or {}
    if "text" in versions or "text_gate" in versions:
        return False
    key = doc.get("key")
    png = doc.get("content_type") == "image/png" or (isinstance(key, str) and key.lower().endswith(".png"))
    return png or screen_sized(doc.get("width"), doc.get("height"))
