"""Where a search's time goes in the SQLite index: for each query of bench/bench_index.py, the time of its three
statements (the count, the first page of 20 for each sort, the whole search with the four facets) and, with
--explain, SQLite's plan (EXPLAIN QUERY PLAN) of the count and of the page sorted by date taken.

    python bench/sqlite_plans.py --build 100000 --index /tmp/plans.db --explain   # builds the index first (bulk)
    python bench/sqlite_plans.py --index /tmp/plans.db                            # an index built before
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions"), str(ROOT / "bench")]

from bench_index import QUERIES, SORTS  # noqa: E402
from bench_scale import Documents  # noqa: E402
from mediaindex.adapters.index.sqlite import SqliteIndex  # noqa: E402
from mediaindex.adapters.index.sqlite_query import order_by  # noqa: E402
from mediaindex.domain.expressions import FACETS  # noqa: E402
from mediaindex.domain.query import Query  # noqa: E402
from mediaindex.domain.query_syntax import parse_query  # noqa: E402


def ms(run) -> float:
    run()  # warm-up
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="the SQLite index file")
    parser.add_argument("--build", type=int, default=0, help="first bulk-load this many generated documents")
    parser.add_argument("--explain", action="store_true", help="print the query plans too")
    args = parser.parse_args()
    index = SqliteIndex(args.index)
    index.ensure_ready()
    if args.build:
        index.put_many(Documents().range(0, args.build), chunk_size=1000)
    print(f"{'query':56} {'count ms':>9} | {'page ms (3 sorts)':>20} | {'with facets ms':>14}")
    with index._conn() as conn:  # noqa: SLF001 - a measuring tool looks inside
        for text in QUERIES:
            query = index._resolved(Query(where=parse_query(text), limit=20))  # noqa: SLF001
            where, params = index._compile(query.effective_where())  # noqa: SLF001
            count_sql = f"SELECT count(*) FROM {index.t_docs} d WHERE {where}"
            pages = []
            for sort in SORTS:
                page_sql = (f"SELECT d.rowid FROM {index.t_docs} d WHERE {where} "
                            f"ORDER BY {order_by(Query(where=query.where, sort=sort))} LIMIT 20")
                pages.append(ms(lambda: conn.execute(page_sql, params).fetchall()))
            count = ms(lambda: conn.execute(count_sql, params).fetchone())
            facets = ms(lambda: index.search(Query(where=query.where, limit=20, facets=FACETS)))
            print(f"{text or '<all>':56} {count:9.1f} | {' '.join(f'{p:6.1f}' for p in pages):>20} | {facets:14.1f}")
            if args.explain:
                for label, sql in (("count", count_sql), ("page by date taken", page_sql.replace(
                        order_by(Query(where=query.where, sort=SORTS[-1])),
                        order_by(Query(where=query.where, sort=SORTS[1]))))):
                    for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params):
                        print(f"    {label}: {row[3]}")


if __name__ == "__main__":
    main()
