"""Face search at scale on the local collection: load time, building and loading the search graph, `nearest`
latency and recall, `identify` latency and the cost of remembering a face at N remembered faces (default
1,000,000); clustering all N at once, then 1,000 new faces into them (`cluster_incremental_s_per_1k_new_faces`).

    python bench/bench_faces.py                 # 1,000,000 faces (about 1.5 GB of RAM, several minutes)
    python bench/bench_faces.py --faces 100000  # quicker
    python bench/bench_faces.py --switch-over   # brute force against the graph at small sizes

The vectors are synthetic but shaped like dlib's: N/10 identities, each seen about 10 times with noise, so
"the same person" is about 0.3 apart and strangers about 1.4. Recall@k compares `nearest` with an independent
float64 brute force: below ann.EXACT_BELOW faces the collection is exact (1.0), above it the graph proposes the
candidates (scored again exactly), and recall says what the graph misses.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from mediaindex.adapters.faces import ann  # noqa: E402
from mediaindex.adapters.faces.local import LocalFaceCollection  # noqa: E402
from mediaindex.config import Settings  # noqa: E402
from mediaindex.domain.face_vectors import DLIB  # noqa: E402 - the synthetic vectors are dlib-shaped
from mediaindex.domain.model import Box, Face  # noqa: E402


def synthetic(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    identities = rng.normal(size=(max(1, n // 10), 128)).astype(np.float32)
    identities /= np.linalg.norm(identities, axis=1, keepdims=True)
    owner = rng.integers(0, len(identities), size=n)
    noise = rng.normal(size=(n, 128)).astype(np.float32)
    noise *= (0.3 / np.linalg.norm(noise, axis=1, keepdims=True))
    return identities[owner] + noise


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, chunk: int = 100_000) -> list[list[int]]:
    """The true k nearest rows for each query, in float64, a chunk of rows at a time (bounded memory)."""
    q = queries.astype(np.float64)
    best_d = np.full((len(q), 0), np.inf)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    for start in range(0, len(vectors), chunk):
        x = vectors[start:start + chunk].astype(np.float64)
        d = (x * x).sum(1)[None, :] - 2 * q @ x.T + (q * q).sum(1)[:, None]
        all_d = np.concatenate([best_d, d], axis=1)
        all_i = np.concatenate([best_i, np.broadcast_to(np.arange(start, start + len(x)), d.shape)], axis=1)
        keep = np.argsort(all_d, axis=1)[:, :k]
        best_d, best_i = np.take_along_axis(all_d, keep, 1), np.take_along_axis(all_i, keep, 1)
    return best_i.tolist()


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--enrolled", type=int, default=10_000, help="enrolled faces for the identify figure")
    parser.add_argument("--cluster-faces", type=int, default=0,
                        help="cluster a collection of this many faces (default: the N faces searched)")
    parser.add_argument("--no-cluster", action="store_true", help="skip the clustering figures")
    parser.add_argument("--switch-over", action="store_true", help="only brute force against the graph, small sizes")
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    args = parser.parse_args()
    if args.switch_over:
        switch_over()
        return

    vectors = synthetic(args.faces)
    box = Box(0.1, 0.1, 0.2, 0.2)
    with tempfile.TemporaryDirectory() as home:
        collection = LocalFaceCollection(Settings(home=Path(home)), space=DLIB)
        t = time.perf_counter()
        batch = 100_000
        for start in range(0, args.faces, batch):
            collection.import_faces(
                (f"{i:064x}", 0, box, vectors[i]) for i in range(start, min(args.faces, start + batch))
            )
        build = time.perf_counter() - t
        t = time.perf_counter()
        collection.nearest(vectors[0], k=1)  # the first search builds the graph (from N = ann.EXACT_BELOW on)
        graph_build = time.perf_counter() - t
        t = time.perf_counter()
        collection.close()  # saves the graph beside faces.db
        graph_save = time.perf_counter() - t

        collection = LocalFaceCollection(Settings(home=Path(home)), space=DLIB)  # a fresh process's cold start
        t = time.perf_counter()
        collection.nearest(vectors[0], k=1)  # reads the vectors from faces.db and loads the saved graph
        load = time.perf_counter() - t
        uses_graph = collection.search.graph is not None

        rng = np.random.default_rng(1)
        picks = rng.integers(0, args.faces, size=args.queries)
        queries = vectors[picks] + rng.normal(size=(len(picks), 128)).astype(np.float32) * 0.02
        latencies, hits = [], 0
        truths = exact_top_k(vectors, queries, args.k)
        for query, truth in zip(queries, truths):
            t = time.perf_counter()
            found = collection.nearest(query, k=args.k)
            latencies.append(time.perf_counter() - t)
            hits += len(set(truth) & {int(ref.content_sha256, 16) for ref, _ in found})
        recall = hits / (args.k * args.queries)

        enrolled = synthetic(args.enrolled, seed=2)
        collection.enroll_embeddings("someone", list(enrolled), "bench")
        faces = [Face(box, 99.0, embedding=list(vectors[i])) for i in range(8)]
        collection.identify(None, faces)
        t_identify = []
        for _ in range(50):
            t = time.perf_counter()
            collection.identify(None, faces)
            t_identify.append(time.perf_counter() - t)

        t_remember = []
        for j in range(20):  # what indexing pays per picture: an insert (clusters are worked out when asked for)
            t = time.perf_counter()
            collection.remember(f"new-{j}", [Face(box, 99.0, embedding=list(vectors[j] + 0.01))])
            t_remember.append(time.perf_counter() - t)

        cluster_n = min(args.faces, args.cluster_faces or args.faces)
        figures = (0.0, 0, 0.0, 0.0)
        if not args.no_cluster and cluster_n == args.faces:
            figures = cluster_figures(collection, vectors)
        collection.close()
    if not args.no_cluster and cluster_n < args.faces:  # a smaller collection of its own, as --cluster-faces asks
        with tempfile.TemporaryDirectory() as home:
            collection = LocalFaceCollection(Settings(home=Path(home)), space=DLIB)
            collection.import_faces((f"{i:064x}", 0, box, vectors[i]) for i in range(cluster_n))
            figures = cluster_figures(collection, vectors[:cluster_n])
            collection.close()
    t_first, cluster_count, t_more, t_100 = figures
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"faces remembered:            {args.faces:,}")
    print(f"bulk load into SQLite:       {build:.1f} s")
    print(f"search graph:                {'hnswlib' if uses_graph else 'none (brute force below ' + str(ann.EXACT_BELOW) + ')'}"
          f", built in {graph_build:.1f} s, saved in {graph_save:.2f} s")
    print(f"cold start (vectors, graph): {load:.2f} s")
    print(f"nearest k={args.k} latency:       p50 {percentile(latencies, 50) * 1000:.2f} ms, "
          f"p95 {percentile(latencies, 95) * 1000:.2f} ms ({args.queries} queries)")
    print(f"recall@{args.k}:                  {recall:.4f}")
    print(f"identify 8 faces vs {args.enrolled:,} enrolled: p50 {statistics.median(t_identify) * 1000:.1f} ms")
    print(f"remember 1 face:             p50 {statistics.median(t_remember) * 1000:.1f} ms")
    if not args.no_cluster:
        print(f"cluster {cluster_n:,} faces at once: {t_first:.1f} s ({cluster_count:,} clusters)")
        print(f"then 1,000 new faces:        {t_more:.3f} s; then 100 more {t_100:.3f} s")
    print(f"peak memory:                 {peak_rss_mb:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps({
            "faces": args.faces, "queries": args.queries, "k": args.k, "bulk_load_s": build, "cold_start_s": load,
            "search_graph": uses_graph, "graph_build_s": graph_build, "graph_save_s": graph_save,
            "nearest_ms": {"p50": percentile(latencies, 50) * 1000, "p95": percentile(latencies, 95) * 1000},
            "face_search_p50_ms": percentile(latencies, 50) * 1000, "recall": recall, "face_recall_at_10": recall,
            "enrolled": args.enrolled, "identify_8_faces_ms_p50": statistics.median(t_identify) * 1000,
            "remember_1_face_ms_p50": statistics.median(t_remember) * 1000, "cluster_all_s": t_first,
            "clusters": cluster_count, "cluster_faces": cluster_n, "cluster_100_more_s": t_100,
            "cluster_incremental_s_per_1k_new_faces": t_more, "peak_rss_mb": peak_rss_mb,
        }, indent=2))


def cluster_figures(collection: LocalFaceCollection, vectors: np.ndarray) -> tuple[float, int, float, float]:
    """Clustering every face at once (the first `people clusters`), then 1,000 faces remembered since (of people
    already seen and of new ones), then 100 more: the clustering alone, without listing the clusters."""
    box = Box(0.1, 0.1, 0.2, 0.2)
    t = time.perf_counter()
    collection.clustering.cluster_pending()
    t_first = time.perf_counter() - t
    count = collection.stats()["clusters"]
    more = np.concatenate([vectors[:500] + 0.01, synthetic(5_000, seed=9)[:500]])
    collection.import_faces((f"more-{i}", 0, box, v) for i, v in enumerate(more))
    t = time.perf_counter()
    collection.clustering.cluster_pending()
    t_more = time.perf_counter() - t
    collection.import_faces((f"again-{i}", 0, box, v + 0.02) for i, v in enumerate(vectors[:100]))
    t = time.perf_counter()
    collection.clustering.cluster_pending()
    return t_first, count, t_more, time.perf_counter() - t


def switch_over(sizes: tuple[int, ...] = (2_000, 5_000, 10_000, 20_000, 50_000), queries: int = 200) -> None:
    """nearest p50 by brute force and through the graph at each size: where the graph starts to pay."""
    box = Box(0.1, 0.1, 0.2, 0.2)
    for n in sizes:
        vectors = synthetic(n)
        row = []
        for exact_below in (10**9, 0):
            with tempfile.TemporaryDirectory() as home:
                c = LocalFaceCollection(Settings(home=Path(home)), space=DLIB, exact_below=exact_below)
                c.import_faces((f"{i:064x}", 0, box, vectors[i]) for i in range(n))
                c.nearest(vectors[0])
                times = []
                for q in vectors[:queries] + 0.01:
                    t = time.perf_counter()
                    c.nearest(q)
                    times.append(time.perf_counter() - t)
                row.append(statistics.median(times) * 1000)
                c.close()
        print(f"{n:>7,} faces: brute force p50 {row[0]:.3f} ms, graph p50 {row[1]:.3f} ms")


if __name__ == "__main__":
    main()
