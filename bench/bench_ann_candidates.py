"""The approximate-nearest-neighbour libraries considered for the local face collection, measured on one data set:
build time, memory, k=10 query latency (one query at a time, as `nearest` is asked), recall@10 against an exact
float64 search, the cost of adding 1,000 vectors and of deleting 1,000, and save/load time.

    python bench/bench_ann_candidates.py --faces 100000               # every library, one process each
    python bench/bench_ann_candidates.py --faces 1000000 --lib hnswlib

The vectors are bench_faces.py's synthetic ones, made unit length (SFace's space is cosine; on unit vectors L2
order is cosine order). Each library runs in its own process so its memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_faces import exact_top_k, percentile, synthetic  # noqa: E402

LIBRARIES = ("hnswlib", "faiss", "usearch")
M, EF_CONSTRUCTION, EF_SEARCH = 16, 100, 64


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Hnswlib:
    def __init__(self, capacity: int) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="l2", dim=128)
        self.index.init_index(max_elements=capacity, M=M, ef_construction=EF_CONSTRUCTION, allow_replace_deleted=True)
        self.index.set_num_threads(2)

    def add(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        if self.index.get_current_count() + len(vectors) > self.index.get_max_elements():
            self.index.resize_index(2 * (self.index.get_current_count() + len(vectors)))
        self.index.add_items(vectors, labels)
        self.index.set_ef(EF_SEARCH)

    def search(self, query: np.ndarray, k: int) -> list[int]:
        labels, _ = self.index.knn_query(query, k=k)
        return labels[0].tolist()

    def remove(self, labels: np.ndarray) -> None:
        for label in labels:
            self.index.mark_deleted(int(label))

    def save(self, path: str) -> None:
        self.index.save_index(path)

    def load(self, path: str) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="l2", dim=128)
        self.index.load_index(path, allow_replace_deleted=True)
        self.index.set_ef(EF_SEARCH)


class Faiss:
    """IndexHNSWFlat cannot remove vectors; IDMap2 over it still cannot (faiss raises), so deletion is 'no'."""

    def __init__(self, capacity: int) -> None:
        import faiss

        faiss.omp_set_num_threads(2)
        self.faiss = faiss
        self.graph = faiss.IndexHNSWFlat(128, M)
        self.graph.hnsw.efConstruction = EF_CONSTRUCTION
        self.index = faiss.IndexIDMap2(self.graph)

    def add(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        self.index.add_with_ids(vectors, labels.astype(np.int64))
        self.graph.hnsw.efSearch = EF_SEARCH

    def search(self, query: np.ndarray, k: int) -> list[int]:
        _, labels = self.index.search(query, k)
        return labels[0].tolist()

    def remove(self, labels: np.ndarray) -> None:
        self.index.remove_ids(labels.astype(np.int64))

    def save(self, path: str) -> None:
        self.faiss.write_index(self.index, path)

    def load(self, path: str) -> None:
        self.index = self.faiss.read_index(path)
        self.graph = self.faiss.downcast_index(self.index.index)
        self.graph.hnsw.efSearch = EF_SEARCH


class Usearch:
    def __init__(self, capacity: int) -> None:
        from usearch.index import Index

        self.index = Index(ndim=128, metric="l2sq", dtype="f32", connectivity=M, expansion_add=EF_CONSTRUCTION,
                           expansion_search=EF_SEARCH)

    def add(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        self.index.add(labels.astype(np.uint64), vectors, threads=2)

    def search(self, query: np.ndarray, k: int) -> list[int]:
        return [int(x) for x in self.index.search(query[0], k).keys]

    def remove(self, labels: np.ndarray) -> None:
        self.index.remove(labels.astype(np.uint64))

    def save(self, path: str) -> None:
        self.index.save(path)

    def load(self, path: str) -> None:
        from usearch.index import Index

        self.index = Index.restore(path)
        self.index.expansion_search = EF_SEARCH


def measure(lib: str, n: int, queries_n: int, k: int) -> dict:
    vectors = synthetic(n)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rng = np.random.default_rng(1)
    picks = rng.integers(0, n, size=queries_n)
    queries = vectors[picks] + rng.normal(size=(queries_n, 128)).astype(np.float32) * 0.02
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truths = exact_top_k(vectors, queries, k)
    base = rss_mb()
    index = {"hnswlib": Hnswlib, "faiss": Faiss, "usearch": Usearch}[lib](n + 2_000)
    t = time.perf_counter()
    index.add(vectors, np.arange(n))
    build = time.perf_counter() - t
    memory = rss_mb() - base
    for q in queries[:20]:
        index.search(q[None, :], k)  # warm-up
    latencies, hits = [], 0
    for q, truth in zip(queries, truths):
        t = time.perf_counter()
        found = index.search(q[None, :], k)
        latencies.append(time.perf_counter() - t)
        hits += len(set(truth) & set(found))
    extra = synthetic(1_000, seed=5)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    t = time.perf_counter()
    index.add(extra, np.arange(n, n + 1_000))
    add_1k = time.perf_counter() - t
    try:
        t = time.perf_counter()
        index.remove(np.arange(n, n + 1_000))
        remove_1k: float | None = time.perf_counter() - t
    except Exception as e:  # noqa: BLE001 - a library without deletion says so here
        remove_1k, removal_error = None, f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    else:
        removal_error = ""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "faces.ann")
        t = time.perf_counter()
        index.save(path)
        save = time.perf_counter() - t
        size = os.path.getsize(path)
        t = time.perf_counter()
        index.load(path)
        load = time.perf_counter() - t
    return {"library": lib, "faces": n, "build_s": build, "memory_mb": memory, "file_mb": size / 1e6,
            "query_ms": {"p50": percentile(latencies, 50) * 1000, "p95": percentile(latencies, 95) * 1000},
            "recall_at_10": hits / (k * queries_n), "add_1k_s": add_1k, "remove_1k_s": remove_1k,
            "removal_error": removal_error, "save_s": save, "load_s": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--lib", choices=LIBRARIES, help="one library, in this process")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.lib:
        print(json.dumps(measure(args.lib, args.faces, args.queries, args.k)))
        return
    results = []
    for lib in LIBRARIES:
        out = subprocess.run([sys.executable, __file__, "--faces", str(args.faces), "--queries", str(args.queries),
                              "--k", str(args.k), "--lib", lib], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{lib}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        removal = f"{r['remove_1k_s'] * 1000:.1f} ms" if r["remove_1k_s"] is not None else f"no ({r['removal_error']})"
        print(f"{lib:8} build {r['build_s']:.1f} s, memory {r['memory_mb']:.0f} MB (file {r['file_mb']:.0f} MB), "
              f"query p50 {r['query_ms']['p50']:.2f} ms p95 {r['query_ms']['p95']:.2f} ms, "
              f"recall@10 {r['recall_at_10']:.4f}, add 1k {r['add_1k_s'] * 1000:.0f} ms, remove 1k {removal}, "
              f"save {r['save_s']:.2f} s, load {r['load_s']:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
