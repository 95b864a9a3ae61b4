"""Over a hundred awkward files beside good ones, through the real pipeline (folder storage, the embedded index,
the real local models): nothing crashes, every bad file gets a `failed` document with a clear reason, every good
file is indexed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mediaindex.adapters.analysis.local import LocalAnalyzer
from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.adapters.storage.folder import FolderStorage, ref_for
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.services.indexing import Pipeline
from tests.stress import badfiles

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_data) -> tuple[Path, list[badfiles.Specimen]]:
    folder = tmp_path_factory.mktemp("corpus")
    specimens = badfiles.build(shared_data)
    for s in specimens:
        (folder / s.name).write_bytes(s.data)
    return folder, specimens


@pytest.fixture(scope="module")
def indexed(corpus, tmp_path_factory):
    folder, specimens = corpus
    index = SqliteIndex(str(tmp_path_factory.mktemp("index") / "index.db"))
    index.ensure_ready()
    pipeline = Pipeline(storage=FolderStorage(), analyzer=LocalAnalyzer(Settings()), index=index)
    outcomes = {}
    for s in specimens:
        outcomes[s.name] = pipeline.handle(StorageEvent(CREATED, ref_for(folder / s.name)))
    return folder, specimens, index, outcomes


def test_the_corpus_is_large_and_varied(corpus):
    _, specimens = corpus
    assert len(specimens) >= 100
    kinds = {s.expect for s in specimens}
    assert {"indexed", "any", "failed:corrupt", "failed:unsupported", "failed:too_large", "failed:empty_file"} <= kinds


def test_every_file_has_exactly_the_document_it_deserves(indexed):
    folder, specimens, index, outcomes = indexed
    for s in specimens:
        ref = ref_for(folder / s.name)
        stored = index.get(docs.document_id(ref.bucket, ref.key))
        assert stored is not None, f"{s.name!r} has no document"
        doc = stored.doc
        assert doc["key"] == str(folder / s.name)
        if s.expect == "indexed":
            assert doc["status"] == "indexed", f"{s.name!r}: {doc['error']}"
            assert doc["width"] >= 1 and doc["height"] >= 1
        elif s.expect.startswith("failed:"):
            assert doc["status"] == "failed", f"{s.name!r} should have failed"
            code = s.expect.split(":", 1)[1]
            assert doc["error"].startswith(code + ": ") and len(doc["error"]) > len(code) + 10
        else:
            assert doc["status"] in ("indexed", "failed")
            assert doc["status"] == "indexed" or doc["error"]


def test_exif_rotation_is_applied(indexed):
    folder, _, index, _ = indexed
    doc = index.get(docs.document_id("", str(folder / "exif-rotated.jpg"))).doc
    assert (doc["width"], doc["height"]) == (120, 160)
    assert doc["camera"] == "Canon EOS 5D"


def test_failed_files_stay_out_of_normal_search(indexed):
    from mediaindex.entrypoints.cli.query_flags import query_from_flags

    folder, specimens, index, _ = indexed
    result = index.search(query_from_flags(None, prefix=str(folder) + os.sep, limit=500))
    keys = {hit["key"] for hit in result.hits}
    assert str(folder / "empty.jpg") not in keys
    assert str(folder / "plain.jpg") in keys
    failed = index.search(query_from_flags(None, prefix=str(folder) + os.sep, include_failed=True, limit=500))
    assert failed.total > result.total
