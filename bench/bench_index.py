"""Index backends: ingest rate and query latency on generated documents.

    python bench/bench_index.py --backend sqlite --docs 100000
    python bench/bench_index.py --backend opensearch --docs 10000      # osmem-server, started here

Ingest is measured two ways: `put` (one compare-and-set write per document, as the indexing use case writes) and
`put_many` (bulk loading). Query latency: each query of QUERIES is run --repeat times for each of three sorts
(after one warm-up run), first page of 20 hits, with and without the four facets; p50/p95 in milliseconds of wall
time, and for SQLite (which runs in this process) also of CPU time, which stays meaningful on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from mediaindex.domain.expressions import FACETS  # noqa: E402
from mediaindex.domain.query import Query, Sort  # noqa: E402
from mediaindex.domain.query_syntax import parse_query  # noqa: E402
from tests.index.corpus import random_doc  # noqa: E402

QUERIES = [
    "",
    "dog",
    "label:dog>=90",
    'person:"Barack Obama"',
    'label:cat OR person:"Ada Lovelace"',
    "smile:true gender:female",
    "NOT emotion:happy",
    'text:"happy birthday"',
    "path:holidays/2024/",
    "taken:2018-01-01..2019-12-31 type:image",
    "(label:beach OR label:snow) NOT label:person age:20..40",
    "a dog on the beach",  # free text: ranked concepts (docs/search.md)
    "happy birthday party with obama",
]
SORTS = [Sort("relevance"), Sort("taken_at", True), Sort("key", False)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {percentile(values, 95):.1f}"


def make_index(backend: str, workdir: str, server=None):
    if backend.startswith("sqlite"):
        from mediaindex.adapters.index.sqlite import SqliteIndex

        return SqliteIndex(os.path.join(workdir, f"bench-{time.time_ns()}.db"))
    from opensearchpy import OpenSearch

    from mediaindex.adapters.index.opensearch import OpenSearchIndex

    clone = server.clone()
    return OpenSearchIndex(OpenSearch(hosts=[clone.url], timeout=120), "media")


def run(backend: str, n: int, put_count: int, repeat: int, workdir: str, server=None) -> dict:
    rng = random.Random(42)
    docs = [random_doc(rng, i) for i in range(n)]
    print(f"\n== {backend}: {n:,} documents ({sum(d['status'] == 'indexed' for d in docs):,} indexed) ==")

    index = make_index(backend, workdir, server)
    index.ensure_ready()
    started = time.perf_counter()
    for doc in docs[:put_count]:
        index.put(doc, None)
    put_rate = put_count / (time.perf_counter() - started)
    print(f"put (compare-and-set, one write each): {put_rate:,.0f} documents/s over {put_count:,}")

    index = make_index(backend, workdir, server)
    index.ensure_ready()
    started = time.perf_counter()
    index.put_many(docs)
    index.refresh()
    bulk_rate = n / (time.perf_counter() - started)
    print(f"put_many (bulk):                       {bulk_rate:,.0f} documents/s over {n:,}")

    in_process = backend.startswith("sqlite")
    print(f"{'query':48} {'total':>7} | {'no facets p50/p95':>17} | {'with facets p50/p95':>19}" + (
        f" | {'CPU p50/p95 (facets)':>20}" if in_process else ""))
    overall: dict[str, list[float]] = {"plain": [], "facets": [], "cpu": []}
    for text in QUERIES:
        where = parse_query(text)
        own: dict[str, list[float]] = {"plain": [], "facets": [], "cpu": []}
        for sort in SORTS:
            for facets in ((), FACETS):
                query = Query(where=where, sort=sort, limit=20, facets=facets)
                result = index.search(query)  # warm-up
                for _ in range(repeat):
                    wall, cpu = time.perf_counter(), time.process_time()
                    index.search(query)
                    own["facets" if facets else "plain"].append((time.perf_counter() - wall) * 1000)
                    if facets:
                        own["cpu"].append((time.process_time() - cpu) * 1000)
        for k in overall:
            overall[k] += own[k]
        row = f"{text or '<all>':48} {result.total:>7,} | {fmt(own['plain']):>17} | {fmt(own['facets']):>19}"
        print(row + (f" | {fmt(own['cpu']):>20}" if in_process else ""))
    row = f"{'all queries':48} {'':>7} | {fmt(overall['plain']):>17} | {fmt(overall['facets']):>19}"
    print(row + (f" | {fmt(overall['cpu']):>20}" if in_process else ""))
    started = time.perf_counter()
    stats = index.stats()
    stats_ms = (time.perf_counter() - started) * 1000
    print(f"stats(): {stats_ms:.0f} ms ({stats['documents']:,} documents)")
    figures = {"documents": n, "put_per_s": put_rate, "put_count": put_count, "put_many_per_s": bulk_rate,
               "queries": len(overall["plain"]), "stats_ms": stats_ms}
    for k, values in overall.items():
        if values and (k != "cpu" or in_process):  # CPU time only means something for an in-process index
            figures[f"query_ms_{k}"] = {"p50": statistics.median(values), "p95": percentile(values, 95)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "opensearch", "both"), default="both")
    parser.add_argument("--docs", type=int, help="documents (default 100,000 for sqlite, 10,000 for opensearch)")
    parser.add_argument("--puts", type=int, default=5000, help="documents written one by one with put (default 5,000)")
    parser.add_argument("--repeat", type=int, default=10, help="runs of each query and sort (default 10)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    args = parser.parse_args()
    figures = {"load_average_at_start": os.getloadavg()[0]}
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as workdir:
        if args.backend in ("sqlite", "both"):
            n = args.docs or 100_000
            figures["sqlite"] = run("sqlite", n, min(args.puts, n), args.repeat, workdir)
        if args.backend in ("opensearch", "both"):
            from osmem_server import OsmemServer

            n = args.docs or 10_000
            with OsmemServer.start() as server:
                figures["osmem"] = run("opensearch (osmem-server)", n, min(args.puts, n, 1000), args.repeat, workdir, server)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
