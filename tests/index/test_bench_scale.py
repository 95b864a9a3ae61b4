"""bench/bench_scale.py at a tiny size: its documents are valid and distinct, it writes every figure it promises, and
the index it builds holds every document (no timing is checked here: speed is the benchmark's to measure)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_scale  # noqa: E402
from mediaindex.adapters.index.sqlite import SqliteIndex  # noqa: E402
from mediaindex.domain.document import document_id  # noqa: E402
from tests.index.corpus import BUCKET  # noqa: E402


@pytest.fixture
def small_pool(monkeypatch):
    monkeypatch.setattr(bench_scale, "POOL", 50)
    monkeypatch.setattr(bench_scale, "PER_FILE", 40)


def test_generated_documents_are_distinct_and_keep_their_id(small_pool):
    docs = bench_scale.Documents()
    made = [docs.doc(i) for i in range(300)]
    assert len({d["id"] for d in made}) == 300
    assert all(d["id"] == document_id(BUCKET, d["key"]) for d in made)
    assert {d["status"] for d in made} <= {"indexed", "failed", "deleted"}


def test_documents_part_writes_every_document_and_figure(small_pool, tmp_path):
    figures: dict = {}
    bench_scale.run_documents(200, 1, str(tmp_path), figures)
    for name in ("ingest_docs_per_s_first_10k", "ingest_docs_per_s_last_10k", "query_p95_ms", "facet_query_p95_ms",
                 "index_bytes", "bulk_docs", "new_process_first_search_s"):
        assert figures[name] > 0, name
    assert figures["bulk_docs"] == 200 - 2 * 40
    assert len(figures["queries"]) == len(bench_scale.QUERIES)
    index = SqliteIndex(str(tmp_path / "index.db"), create=False)
    assert sum(1 for _ in index.iter_documents(include_deleted=True)) == 200


def test_faces_part_measures_recall_against_the_exact_search(tmp_path):
    figures: dict = {}
    bench_scale.run_faces(500, 10, str(tmp_path), figures)
    assert 0.0 <= figures["face_recall_at_10"] <= 1.0
    assert figures["face_recall_at_10"] >= 0.9  # the local collection on 500 faces: exact or nearly so
    assert figures["cluster_incremental_s_per_1k_new_faces"] >= 0 and figures["cluster_list_s"] >= 0
    assert 0 < figures["cluster_list_faces"] <= 1500  # the clusters of 2 or more among the 500 + 1,000 faces
