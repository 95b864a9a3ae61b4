"""The one "already indexed from these very bytes?" rule (domain/freshness.py), as a table of cases, and the four
callers that ask it: the pipeline, bulk indexing, backfill and reconcile."""

from __future__ import annotations

import pytest

from mediaindex.domain.freshness import fingerprint, is_unchanged
from mediaindex.ports import ObjectInfo, ObjectRef
from mediaindex.services import backfill, bulk, reconcile

DOC = {"status": "indexed", "etag": "e1", "size": 10, "analyzer": "local", "face_model": "sface"}

# (document, etag, size, analyzer, face model) -> unchanged?
CASES = [
    (DOC, "e1", 10, "local", "sface", True),
    (DOC, "e1", 10, None, None, True),  # None: any analyzer, any face model
    ({**DOC, "status": "failed"}, "e1", 10, "local", "sface", True),  # a bad file stays bad until it changes
    ({**DOC, "status": "deleted"}, "e1", 10, "local", "sface", False),  # a tombstone: the file is back
    (None, "e1", 10, None, None, False),  # not in the index
    (DOC, "e2", 10, None, None, False),  # other bytes
    (DOC, "e1", 11, None, None, False),
    (DOC, None, 10, None, None, False),  # no etag listed: nothing proves the bytes are the same
    ({**DOC, "etag": None}, None, 10, None, None, False),
    ({**DOC, "size": None}, "e1", 10, None, None, False),  # a document without its size cannot show it is the same
    (DOC, "e1", None, None, None, False),
    (DOC, "e1", 10, "rekognition", None, False),  # another analyzer: analysed again
    ({**DOC, "analyzer": None}, "e1", 10, "local", None, True),  # a document that names no analyzer fits any
    (DOC, "e1", 10, "local", "arcface", False),  # face vectors of another model are never compared
    ({k: v for k, v in DOC.items() if k != "face_model"}, "e1", 10, "local", "arcface", True),  # no vectors kept
]


@pytest.mark.parametrize("doc,etag,size,analyzer,face_model,expected", CASES)
def test_the_rule(doc, etag, size, analyzer, face_model, expected):
    assert is_unchanged(doc, etag=etag, size=size, analyzer=analyzer, face_model=face_model) is expected


@pytest.mark.parametrize("doc,etag,size,analyzer,face_model,expected", CASES)
def test_the_listing_callers_agree_with_the_rule(doc, etag, size, analyzer, face_model, expected):
    info = ObjectInfo(ObjectRef("b", "k"), size, etag)
    assert bulk.is_unchanged(info, doc, analyzer, face_model) is expected
    # backfill and reconcile do not know the workers' analyzer: they pass None for both on purpose
    anything = is_unchanged(doc, etag=etag, size=size, analyzer=None, face_model=None)
    assert backfill.is_current(info, doc) is anything
    if doc is not None:
        assert reconcile.differs(etag, size, fingerprint(doc)) is not anything  # what reconcile keeps of it
