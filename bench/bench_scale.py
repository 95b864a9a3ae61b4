"""One machine at scale: an SQLite index of N generated documents and a local face collection of M vectors.

    python bench/bench_scale.py --docs 100000 --faces 100000 --json /tmp/scale.json
    flock /tmp/mediaindex-heavy.lock nice python bench/bench_scale.py --docs 1000000 --faces 0 --json /tmp/scale-docs.json

Documents are shaped like real ones (tests/index/corpus.py: a pool of random_doc documents, each copied under new
keys, dates and ids, so that a million are made in seconds) and written through the real write paths: the first
10,000 one compare-and-set write at a time into the empty index (services/index_io.compare_and_set: `get`, then
`put` against the version read, as `mediaindex index` writes each file), the bulk of them with `put_many`, and the
last 10,000 one at a time again, into the index at N. Then the query set of bench/bench_index.py (first page of 20),
without and with the four facets, each query x sort run --repeat times after a warm-up.

Faces: M synthetic dlib-shaped vectors (bench/bench_faces.py) in a LocalFaceCollection; `nearest` latency and
recall@10 against an exact float64 brute force on the same vectors; every face clustered once (and listed), then
1,000 newly remembered faces, whose joining of the clusters alone is the incremental figure (`cluster_of` one of
them, which clusters every face still pending), and a listing of the clusters of 2 or more after that
(`cluster_list_s`: it reads and builds every face of those clusters, so it grows with the answer).
--faces 0 skips the faces.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions"), str(ROOT / "bench")]

from bench_index import QUERIES, SORTS, percentile  # noqa: E402
from mediaindex.adapters.index.sqlite import SqliteIndex  # noqa: E402
from mediaindex.domain.document import document_id  # noqa: E402
from mediaindex.domain.expressions import FACETS  # noqa: E402
from mediaindex.domain.query import Query  # noqa: E402
from mediaindex.domain.query_syntax import parse_query  # noqa: E402
from mediaindex.services.index_io import compare_and_set  # noqa: E402
from tests.index.corpus import BUCKET, random_doc  # noqa: E402

PER_FILE = 10_000  # documents written one at a time, at the start and at the end
CATCH_UP = 1_000  # re-indexed files the query side takes in before the next search
POOL = 20_000  # distinct generated documents; the others are copies of them under new keys and dates
NEW_PROCESSES = 3  # new processes timed answering their first search (the median is the figure)
# A new process's first search, as `mediaindex search dog` makes it: imports, opens the index, answers (loading the
# saved query side). It prints its own timings; the caller times it from start to exit with the wall clock.
FIRST_SEARCH = r"""
import json, sys, time
began = time.perf_counter()
from mediaindex.adapters.index.sqlite import SqliteIndex
imported = time.perf_counter()
index = SqliteIndex(sys.argv[1], create=False)
result = index.search("dog")
answered = time.perf_counter()
side = index.query_side
print(json.dumps({"import_s": imported - began, "search_s": answered - imported, "total": result.total,
                  "loads": side.loads, "builds": side.builds}))
"""


class Documents:
    """The i-th document, made from a pool of random_doc documents: new key (so a new id), dates and number."""

    def __init__(self, seed: int = 42) -> None:
        rng = random.Random(seed)
        self.pool = [random_doc(rng, i) for i in range(POOL)]
        self.rng = random.Random(seed + 1)

    def doc(self, i: int) -> dict[str, Any]:
        template = self.pool[self.rng.randrange(POOL)]
        rng = self.rng
        stem, _, ext = template["key"].rpartition(".")
        key = f"{stem.rpartition('_')[0]}_{i:07d}.{ext}"
        doc = {**template, "id": document_id(BUCKET, key), "key": key}
        doc["indexed_at"] = (f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
                             f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.000Z")
        if template.get("taken_at"):
            doc["taken_at"] = (f"{rng.randint(2010, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                               f"T{rng.randint(0, 23):02d}:00:00")
        return doc

    def range(self, start: int, stop: int) -> Iterator[dict[str, Any]]:
        return (self.doc(i) for i in range(start, stop))


def write_one_at_a_time(index: SqliteIndex, docs: Iterator[dict[str, Any]]) -> tuple[int, float]:
    """Each document as `mediaindex index` writes a file: read what is stored, put against that version."""
    n, started = 0, time.perf_counter()
    for doc in docs:
        compare_and_set(index, doc["id"], lambda current, doc=doc: index.put(doc, current.version if current else None))
        n += 1
    return n, time.perf_counter() - started


def rss_mb() -> float:
    """This process's resident memory now (the peak is in peak_rss_mb)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def index_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))


def new_process_first_search(path: str) -> dict[str, Any]:
    """A new Python process that opens the index and answers one search ("dog"): wall-clock seconds from before it
    starts to after it exits, and its own split (imports, then opening and the first answer)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", FIRST_SEARCH, path], env=env, capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - started
    return {"wall_s": wall, **json.loads(done.stdout.strip().splitlines()[-1])}


def run_documents(n: int, repeat: int, workdir: str, figures: dict[str, Any]) -> None:
    per_file = min(PER_FILE, n // 2)
    t = time.perf_counter()
    docs = Documents()
    figures["generate_pool_s"] = time.perf_counter() - t
    path = os.path.join(workdir, "index.db")
    index = SqliteIndex(path)
    index.ensure_ready()

    done, seconds = write_one_at_a_time(index, docs.range(0, per_file))
    figures["ingest_docs_per_s_first_10k"] = done / seconds
    print(f"per-file writes into the empty index: {done / seconds:,.0f} documents/s over {done:,}", flush=True)

    t = time.perf_counter()
    bulk = index.put_many(docs.range(per_file, n - per_file), chunk_size=1000)
    figures["bulk_docs_per_s"] = bulk / max(time.perf_counter() - t, 1e-9)
    figures["bulk_docs"] = bulk
    print(f"put_many (bulk): {figures['bulk_docs_per_s']:,.0f} documents/s over {bulk:,}", flush=True)

    last = list(docs.range(n - per_file, n))
    done, seconds = write_one_at_a_time(index, iter(last))
    figures["ingest_docs_per_s_last_10k"] = done / seconds
    figures["ingest_end_over_start"] = figures["ingest_docs_per_s_last_10k"] / figures["ingest_docs_per_s_first_10k"]
    print(f"per-file writes into the index at {n - per_file:,}: {done / seconds:,.0f} documents/s over {done:,}",
          flush=True)

    # the query side (in memory) is built from the file by the first search, then kept in step with writes
    t = time.perf_counter()
    index.search(Query(limit=20))
    figures["query_side_build_s"] = time.perf_counter() - t
    figures["rss_after_build_mb"] = rss_mb()
    print(f"query side built from the file at {n:,} documents: {figures['query_side_build_s']:.1f} s", flush=True)
    snapshot = f"{path}.{index.name}.query"
    figures["query_snapshot_bytes"] = os.path.getsize(snapshot) if os.path.exists(snapshot) else 0
    t = time.perf_counter()
    SqliteIndex(path).search(Query(limit=20))  # a new process: loads the saved query side instead of building
    figures["query_side_load_s"] = time.perf_counter() - t
    print(f"query side saved ({figures['query_snapshot_bytes'] / 1e6:,.0f} MB) and loaded by a new reader: "
          f"{figures['query_side_load_s']:.2f} s", flush=True)
    runs = [new_process_first_search(path) for _ in range(NEW_PROCESSES)]
    figures["new_process_started_from_snapshot"] = all(r["loads"] == 1 and r["builds"] == 0 for r in runs)
    middle = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    figures["new_process_first_search_s"] = middle["wall_s"]
    figures["new_process_import_s"] = middle["import_s"]
    figures["new_process_open_and_search_s"] = middle["search_s"]
    figures["new_process_first_search_runs_s"] = [r["wall_s"] for r in runs]
    print(f"a new process's first search (\"dog\", {middle['total']:,} found), start to exit: "
          f"{middle['wall_s']:.2f} s (median of {len(runs)}: imports {middle['import_s']:.2f} s, opening and "
          f"answering {middle['search_s']:.2f} s)", flush=True)
    t = time.perf_counter()
    index.search(Query(limit=20, facets=FACETS))  # the first search after the build, then...
    figures["first_search_after_build_ms"] = (time.perf_counter() - t) * 1000
    write_one_at_a_time(index, ({**d, "indexed_at": "2025-01-01T00:00:00.000Z"} for d in last[:CATCH_UP]))  # re-indexed
    t = time.perf_counter()
    index.search(Query(limit=20, facets=FACETS))
    figures["search_after_1k_writes_ms"] = (time.perf_counter() - t) * 1000
    print(f"first search after {min(CATCH_UP, len(last)):,} more writes (applies them): {figures['search_after_1k_writes_ms']:.0f} ms",
          flush=True)

    print(f"{'query':56} {'total':>9} | {'plain p50/p95 ms':>16} | {'facets p50/p95 ms':>17}")
    overall: dict[str, list[float]] = {"plain": [], "facets": []}
    per_query = []
    for text in QUERIES:
        where = parse_query(text)
        own: dict[str, list[float]] = {"plain": [], "facets": []}
        for sort in SORTS:
            for facets in ((), FACETS):
                query = Query(where=where, sort=sort, limit=20, facets=facets)
                result = index.search(query)  # warm-up
                for _ in range(repeat):
                    started = time.perf_counter()
                    index.search(query)
                    own["facets" if facets else "plain"].append((time.perf_counter() - started) * 1000)
        for k in overall:
            overall[k] += own[k]
        row = {"query": text or "<all>", "total": result.total,
               **{f"{k}_ms": {"p50": statistics.median(v), "p95": percentile(v, 95)} for k, v in own.items()}}
        per_query.append(row)
        print(f"{row['query']:56} {result.total:>9,} | {row['plain_ms']['p50']:7.1f} / {row['plain_ms']['p95']:6.1f} | "
              f"{row['facets_ms']['p50']:7.1f} / {row['facets_ms']['p95']:7.1f}", flush=True)
    figures["queries"] = per_query
    figures["timed_queries"] = len(overall["plain"]) + len(overall["facets"])
    run_free_text(index, repeat, figures)
    figures["query_p50_ms"] = statistics.median(overall["plain"])
    figures["query_p95_ms"] = percentile(overall["plain"], 95)
    figures["facet_query_p50_ms"] = statistics.median(overall["facets"])
    figures["facet_query_p95_ms"] = percentile(overall["facets"], 95)
    index.close()
    figures["index_bytes"] = index_bytes(path)


# Sentences as people type them, through the search use case (services/search.run_search: a count per concept to
# leave out the words nobody has, then the ranked first page, relaxed when no file has every concept).
FREE_TEXT = ["dog", "a dog on the beach", "pictures of my cat", "a happy woman at a birthday party",
             "obama and biden", "a snowy mountain", "someone riding a horse in a field", "beach 2019",
             "people smiling at a party last summer", "christmas"]


def run_free_text(index: SqliteIndex, repeat: int, figures: dict[str, Any]) -> None:
    from mediaindex.services.search import run_search

    times: list[float] = []
    rows = []
    for text in FREE_TEXT:
        query = Query(where=parse_query(text), limit=20)
        answer = run_search(index, query)  # warm-up
        own = []
        for _ in range(repeat * 3):
            started = time.perf_counter()
            run_search(index, query)
            own.append((time.perf_counter() - started) * 1000)
        times += own
        rows.append({"query": text, "total": answer.result.total, "relaxed": answer.relaxed,
                     "not_understood": list(answer.not_understood),
                     "p50_ms": statistics.median(own), "p95_ms": percentile(own, 95)})
        print(f"free text {text!r:44} {answer.result.total:>9,} | {rows[-1]['p50_ms']:7.1f} / {rows[-1]['p95_ms']:6.1f}"
              f"{'  (relaxed)' if answer.relaxed else ''}", flush=True)
    figures["free_text"] = rows
    figures["free_text_p50_ms"] = statistics.median(times)
    figures["free_text_p95_ms"] = percentile(times, 95)
    print(f"free text through the search use case: p50 {figures['free_text_p50_ms']:.1f} ms, "
          f"p95 {figures['free_text_p95_ms']:.1f} ms", flush=True)


def run_faces(m: int, queries: int, workdir: str, figures: dict[str, Any]) -> None:
    import numpy as np

    from bench_faces import exact_top_k, synthetic
    from mediaindex.adapters.faces.local import FaceRef, LocalFaceCollection
    from mediaindex.config import Settings
    from mediaindex.domain.face_vectors import DLIB
    from mediaindex.domain.model import Box, Face

    home = Path(workdir) / "faces-home"
    home.mkdir()
    vectors = synthetic(m)
    box = Box(0.1, 0.1, 0.2, 0.2)
    collection = LocalFaceCollection(Settings(home=home), space=DLIB)
    t = time.perf_counter()
    for start in range(0, m, 100_000):
        collection.import_faces((f"{i:064x}", 0, box, vectors[i]) for i in range(start, min(m, start + 100_000)))
    figures["faces_load_s"] = time.perf_counter() - t
    print(f"faces remembered: {m:,} in {figures['faces_load_s']:.1f} s", flush=True)

    rng = np.random.default_rng(1)
    picks = rng.integers(0, m, size=queries)
    probes = vectors[picks] + rng.normal(size=(queries, vectors.shape[1])).astype(np.float32) * 0.02
    collection.nearest(probes[0], k=10)  # the first search reads the vectors (or the approximate index)
    truths = exact_top_k(vectors, probes, 10)
    latencies, hits = [], 0
    for probe, truth in zip(probes, truths):
        started = time.perf_counter()
        found = collection.nearest(probe, k=10)
        latencies.append((time.perf_counter() - started) * 1000)
        hits += len(set(truth) & {int(ref.content_sha256, 16) for ref, _ in found})
    figures["face_search_p50_ms"] = statistics.median(latencies)
    figures["face_search_p95_ms"] = percentile(latencies, 95)
    figures["face_recall_at_10"] = hits / (10 * queries)
    print(f"nearest k=10: p50 {figures['face_search_p50_ms']:.2f} ms, recall@10 {figures['face_recall_at_10']:.4f}",
          flush=True)

    t = time.perf_counter()
    collection.clusters(min_size=2, unnamed_only=False)  # every face pending so far
    figures["cluster_all_s"] = time.perf_counter() - t
    print(f"clustering all {m:,} faces: {figures['cluster_all_s']:.1f} s", flush=True)
    new = synthetic(1000, seed=3)
    for j in range(1000):  # one picture at a time, as indexing remembers them
        collection.remember(f"new-{j:060d}", [Face(box, 99.0, embedding=list(new[j]))])
    # the join alone: asking one new face's cluster clusters every face pending (then one indexed lookup)
    t = time.perf_counter()
    joined = collection.cluster_of(FaceRef(f"new-{999:060d}", 0))
    figures["cluster_incremental_s_per_1k_new_faces"] = time.perf_counter() - t
    assert joined is not None and collection.stats()["faces_not_clustered_yet"] == 0
    print(f"clustering 1,000 new faces: {figures['cluster_incremental_s_per_1k_new_faces']:.2f} s", flush=True)
    figures["cluster_pair_recall"] = pair_recall(collection, 1000)
    print(f"pairs within the threshold the join found, against brute force: {figures['cluster_pair_recall']:.4f}",
          flush=True)
    t = time.perf_counter()
    listing = collection.clusters(min_size=2, unnamed_only=False)
    figures["cluster_list_s"] = time.perf_counter() - t
    figures["cluster_list_faces"] = sum(len(members) for members in listing.values())
    print(f"listing the clusters of 2 or more: {figures['cluster_list_s']:.2f} s for {len(listing):,} clusters, "
          f"{figures['cluster_list_faces']:,} faces", flush=True)
    collection.close()


def pair_recall(collection: Any, newest: int) -> float:
    """Of the pairs (new face, any face) within the match threshold, the share the graph's candidates give (what
    the incremental join links), against brute force over every vector."""
    ids, _, _, matrix = collection.store.remembered()
    rows = list(range(len(ids) - newest, len(ids)))
    limit = collection.space.squared_distance_for(collection.threshold)
    found = set(collection.search.close_pairs(rows, limit))
    exact = set()
    vectors = matrix.data[:matrix.size]
    for start in range(0, len(rows), 50):  # 50 x a million distances at a time
        part = rows[start:start + 50]
        close = matrix.squared_distances(vectors[part]) <= limit
        exact |= {(part[r], int(j)) for r, j in zip(*close.nonzero())}
    return len(found & exact) / max(1, len(exact))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--faces", type=int, default=0, help="face vectors (0: skip the faces part)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each query and sort (default 3)")
    parser.add_argument("--face-queries", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    parser.add_argument("--workdir", help="where the index and face files go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true",
                        help="write into --workdir itself (an empty folder) and leave the index there, for load-time experiments")
    args = parser.parse_args()
    began = time.perf_counter()
    figures: dict[str, Any] = {"docs": args.docs, "faces": args.faces, "cpus": os.cpu_count(),
                               "load_average_at_start": os.getloadavg()[0], "command": " ".join(sys.argv)}
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    if args.keep and not args.workdir:
        parser.error("--keep needs --workdir")
    with (contextlib.nullcontext(args.workdir) if args.keep else tempfile.TemporaryDirectory(dir=args.workdir)) \
            as workdir:
        if args.docs:
            run_documents(args.docs, args.repeat, workdir, figures)
        if args.faces:
            run_faces(args.faces, args.face_queries, workdir, figures)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["elapsed_s"] = time.perf_counter() - began
    figures["load_average_at_end"] = os.getloadavg()[0]
    names = ["ingest_docs_per_s_first_10k", "ingest_docs_per_s_last_10k", "ingest_end_over_start", "bulk_docs_per_s",
             "query_p50_ms", "query_p95_ms", "facet_query_p50_ms", "facet_query_p95_ms", "index_bytes",
             "face_search_p50_ms", "face_search_p95_ms", "face_recall_at_10", "cluster_all_s",
             "cluster_incremental_s_per_1k_new_faces", "cluster_list_s", "peak_rss_mb", "elapsed_s"]
    names += ["query_side_build_s", "query_side_load_s", "query_snapshot_bytes", "new_process_first_search_s",
              "new_process_import_s", "new_process_open_and_search_s", "rss_after_build_mb",
              "first_search_after_build_ms", "search_after_1k_writes_ms", "free_text_p50_ms", "free_text_p95_ms"]
    print(f"\n| figure ({args.docs:,} documents, {args.faces:,} faces) | value |\n|---|---|")
    for name in names:
        if name in figures:
            value = figures[name]
            print(f"| {name} | {value:,.3f} |" if isinstance(value, float) else f"| {name} | {value:,} |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
