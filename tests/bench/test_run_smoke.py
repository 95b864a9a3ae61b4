"""bench/run.py runs at all: the cheapest benchmarks at their --quick sizes, through the runner, into its table and
JSON. Nothing is timed here; the figures themselves are for `make bench` and docs/performance.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_suite_prints_one_table_and_writes_the_figures(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "rematch,faces", "--json", str(out),
         "--logs", str(tmp_path / "logs")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert table[0] == "| figure | value | how / details |"
    assert any(line.startswith("| Face search at 20,000 faces") and "recall@10 1.000" in line for line in table)
    assert any(line.startswith("| Re-match after an enrolment, 500 pictures") for line in table)
    report = json.loads(out.read_text())
    assert report["quick"] is True and report["machine"]["cpus"] >= 1
    faces = report["results"]["faces"]["figures"]
    assert faces["faces"] == 20_000 and faces["recall"] == 1.0  # the collection is exact
    assert report["results"]["rematch"]["figures"]["documents"] == 500


def test_unknown_benchmark_is_refused_with_the_list():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--only", "nope"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "choose from local_images" in done.stderr
