"""bench/bench_search_quality.py runs at all: its --quick subset (8 photos, 6 queries, 6 places of which 2 at sea)
through its main, with the real local models, into figures and JSON. The figures themselves are for
docs/performance.md; here only that they exist, and what must hold on any run: photos at sea get no city and no
place query finds them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.models, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_search_quality", ROOT / "bench" / "bench_search_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_gives_every_figure_and_no_city_at_sea(tmp_path, capsys):
    out = tmp_path / "quality.json"
    assert load_bench().main(["--quick", "--workers", "1", "--today", "2026-12-07", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "words (3): P@10" in printed and "sentences (3): P@10" in printed and "places (4): precision" in printed
    report = json.loads(out.read_text())
    assert report["quick"] is True and report["photos"] == 8 and report["geotagged"] == 6 and report["at_sea"] == 2
    assert report["indexed"]["words"] == {"indexed": 8, "failed": 0}
    assert report["indexed"]["geo"] == {"indexed": 6, "failed": 0}
    for kind in ("words", "sentences"):
        figures = report[kind]
        assert figures["queries"] == 3
        for key in ("p@10", "r_precision", "success@1", "mrr"):
            assert 0.0 <= figures[key] <= 1.0
    for group in ("places", "times"):
        assert 0.0 <= report[group]["precision"] <= 1.0 and 0.0 <= report[group]["recall"] <= 1.0
    assert len(report["word_queries"]) == 6 and len(report["place_queries"]) == 6
    # at sea: no city, nothing at all even, and never found by a place; the four on land have theirs
    assert [p["city"] for p in report["at_sea_places"]] == [None, None]
    assert report["at_sea_with_a_city"] == 0 and report["at_sea_found_by_a_place"] == 0
    assert report["geotagged_with_a_place"] == 4
    paris = next(q for q in report["place_queries"] if q["query"] == "paris")
    assert paris["relevant"] == 2 and paris["recall"] == 1.0  # the suburb (Boulogne-Billancourt) too
