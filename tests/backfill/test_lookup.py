"""Skip-by-ETag lookups: one batch call (get_many) per page; and what counts as already indexed."""

from __future__ import annotations

import hashlib

from mediaindex.domain import document as docs
from mediaindex.ports import ObjectInfo, ObjectRef
from mediaindex.services.backfill import Backfill, Listed, is_current
from mediaindex.services.index_io import documents_by_id
from tests.backfill.archive import picture
from tests.fakes import FakeIndex, FakeStorage


class BatchIndex(FakeIndex):
    def __init__(self):
        super().__init__()
        self.batches: list[int] = []
        self.single_gets = 0

    def get(self, doc_id):
        self.single_gets += 1
        return super().get(doc_id)

    def get_many(self, doc_ids):
        self.batches.append(len(doc_ids))
        return super().get_many(doc_ids)


class ListSource:
    """A FakeStorage listing in pages, as the sources give them."""

    bucket = "media"

    def __init__(self, storage, page_size):
        self.storage, self.page_size = storage, page_size

    def describe(self):
        return "fake"

    def pages(self, position):
        items = [Listed(ObjectInfo(i.ref, i.size, hashlib.md5(self.storage.objects[i.ref.key]).hexdigest()), i.ref.key)
                 for i in self.storage.list("media") if position is None or i.ref.key > position]
        for start in range(0, len(items), self.page_size):
            yield items[start:start + self.page_size]


def test_one_batch_lookup_per_page_and_unchanged_files_skipped():
    storage = FakeStorage()
    for i in range(120):
        storage.write(f"p/{i:03d}.jpg", picture(i))
    index = BatchIndex()
    for key in list(storage.objects)[:30]:
        data = storage.objects[key]
        index.put({**docs.base_document("media", key, None), "status": "indexed",
                   "etag": hashlib.md5(data).hexdigest(), "size": len(data)}, None)
    summary = Backfill(ListSource(storage, 50), index, sink=None).run()
    assert index.batches == [50, 50, 20] and index.single_gets == 0
    assert summary.skipped_unchanged == 30


def test_the_lookup_leaves_out_the_documents_the_index_lacks():
    index = FakeIndex()
    index.put({**docs.base_document("b", "k", None), "status": "indexed", "etag": "e", "size": 1}, None)
    found = documents_by_id(index, [docs.document_id("b", "k"), docs.document_id("b", "absent")])
    assert list(found) == [docs.document_id("b", "k")] and found[docs.document_id("b", "k")]["etag"] == "e"


def test_what_counts_as_already_indexed():
    info = ObjectInfo(ObjectRef("b", "k"), 10, "etag1")
    assert is_current(info, {"status": "indexed", "etag": "etag1", "size": 10})
    assert is_current(info, {"status": "failed", "etag": "etag1", "size": 10})  # a bad file stays bad
    assert not is_current(info, {"status": "deleted", "etag": "etag1", "size": 10})  # a tombstone: index again
    assert not is_current(info, {"status": "indexed", "etag": "other", "size": 10})
    assert not is_current(info, {"status": "indexed", "etag": "etag1", "size": 11})
    assert not is_current(ObjectInfo(ObjectRef("b", "k"), 10, None), {"status": "indexed", "etag": None})
    assert not is_current(info, None)
