"""What checking a saved face graph's structure costs before hnswlib loads it (ann.check_graph), beside the load
itself: builds a graph of N random 128-d faces, saves it, then times check_graph and FaceGraph.load (median of 5).

    PYTHONPATH=functions python bench/bench_graph_check.py --faces 100000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mediaindex.adapters.faces import ann


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=100_000)
    args = parser.parse_args()
    vectors = np.random.default_rng(0).normal(size=(args.faces, 128)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        graph = ann.FaceGraph(Path(folder) / "faces.hnsw")
        started = time.perf_counter()
        graph.build(np.arange(args.faces), vectors)
        built = time.perf_counter() - started
        graph.save()
        checks, loads = [], []
        for _ in range(5):
            started = time.perf_counter()
            ann.check_graph(graph.path, 128)
            checks.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert ann.FaceGraph(graph.path).load()
            loads.append(time.perf_counter() - started)
        print(f"faces {args.faces:,}: graph file {graph.path.stat().st_size / 1e6:.0f} MB, built in {built:.1f} s; "
              f"check_graph {statistics.median(checks):.3f} s, load with the check {statistics.median(loads):.3f} s "
              "(medians of 5)")


if __name__ == "__main__":
    main()
