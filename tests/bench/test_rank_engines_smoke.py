"""bench/bench_rank_engines.py runs at all: a few hundred documents, each engine once, the figures and the agreement
with our ranking produced and written. Nothing is timed here; the figures are for docs/search.md."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import bench_rank_engines  # noqa: E402

HAS_TANTIVY = importlib.util.find_spec("tantivy") is not None


def run(tmp_path, engines: str) -> dict:
    out = tmp_path / "rank.json"
    report = bench_rank_engines.main(["--quick", "--docs", "200", "--repeat", "1", "--engines", engines,
                                      "--json", str(out), "--workdir", str(tmp_path)])
    assert json.loads(out.read_text())["engines"].keys() == report["engines"].keys()
    return report


def check_figures(figures: dict, queries: list[str]) -> None:
    assert figures["build_s"] >= 0 and figures["peak_rss_mb"] > 0
    assert figures["p95_ms"] >= figures["p50_ms"] > 0
    assert set(figures["queries"]) == set(queries)
    assert all(len(q["ids"]) <= 20 for q in figures["queries"].values())
    assert figures["keep_in_step"]["changed"] > 0


@pytest.mark.slow
def test_our_query_side_and_fts5_bm25_on_the_same_documents(tmp_path):
    report = run(tmp_path, "ours,fts5-plain,fts5-buckets")
    assert report["docs"] == 200 and report["store"]["written"] == 200
    for figures in report["engines"].values():
        check_figures(figures, report["queries"])
    assert report["engines"]["ours"]["queries"]["dog"]["ids"]  # the corpus has dogs
    for name in ("fts5-plain", "fts5-buckets"):
        agreement = report["engines"][name]["agreement"]
        assert 0 <= agreement["overlap_at_20"] <= agreement["tie_aware_at_20"] <= 1
        assert 0 < agreement["score_kept"] <= 1.0001
        assert agreement["same_total"] == 1  # the same documents match; only the order differs
        assert report["engines"][name]["size_bytes"] > 0


def test_fts5_match_is_the_and_of_concepts_each_the_or_of_its_options():
    match = bench_rank_engines.fts5_match(bench_rank_engines.parse_query("dog beach"), "plain")
    dog, beach = match.split(") AND (")
    assert '{own parent broader} : ("dog")' in dog and '{people} : ("dog")' in dog and '{text} : ("dog")' in dog
    assert '{own parent broader} : ("seashore")' in beach


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TANTIVY, reason="tantivy is not installed (pip install tantivy)")
def test_tantivy_on_the_same_documents(tmp_path):
    report = run(tmp_path, "ours,tantivy-plain")
    check_figures(report["engines"]["tantivy-plain"], report["queries"])
    assert report["engines"]["tantivy-plain"]["agreement"]["same_total"] == 1


@pytest.mark.slow
def test_tantivy_missing_is_skipped_with_a_reason(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tantivy" else real(name, *a))
    report = run(tmp_path, "ours,tantivy-plain")
    assert list(report["engines"]) == ["ours"]
    assert "not importable" in report["skipped"]["tantivy-plain"]
