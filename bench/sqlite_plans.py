"""Where a search's time goes in the SQLite index: for each query of bench/bench_index.py, the time of its three
statements (the count, the first page of 20 for each sort, the whole search with the four facets) and, with
--explain, SQLite's plan (EXPLAIN QUERY PLAN) of the count and of the page sorted by date taken.

    python bench/sqlite_plans.py --build 100000 --index /tmp/plans.db --explain   # builds the index first (bulk)
    python bench/sqlite_plans.py --index /tmp/plans.db                            # an index built before
    python bench/sqlite_plans.py --index /tmp/plans.db --writes 3000   # also: each statement of 3,000 per-file writes

"facets in SQL" is the alternative not taken: the facets counted by SQLite from the terms table (GROUP BY over the
matches) rather than from the packed values in Python. --writes times each SQL statement of N compare-and-set
writes of new documents (into a copy of the index, and into an empty one).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions"), str(ROOT / "bench")]

from bench_index import QUERIES, SORTS  # noqa: E402
from bench_scale import Documents, write_one_at_a_time  # noqa: E402
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


class TimedConnection(sqlite3.Connection):
    """A connection that adds up the time of each statement (by its first 70 characters)."""

    spent: dict[str, float] = defaultdict(float)

    def execute(self, sql, *args):  # type: ignore[override]
        started = time.perf_counter()
        try:
            return super().execute(sql, *args)
        finally:
            self.spent[re.sub(r"\s+", " ", sql)[:70]] += time.perf_counter() - started

    def executemany(self, sql, *args):  # type: ignore[override]
        started = time.perf_counter()
        try:
            return super().executemany(sql, *args)
        finally:
            self.spent[re.sub(r"\s+", " ", sql)[:70]] += time.perf_counter() - started


def time_writes(source: str, n: int) -> None:
    import mediaindex.adapters.index.sqlite as sqlite_module

    connect = sqlite3.connect
    sqlite_module.sqlite3 = type(sqlite3)("sqlite3_timed")
    sqlite_module.sqlite3.__dict__.update(sqlite3.__dict__)
    sqlite_module.sqlite3.connect = lambda *a, **k: connect(*a, factory=TimedConnection, **k)
    docs = Documents(seed=7)
    with tempfile.TemporaryDirectory() as workdir:
        copy = f"{workdir}/copy.db"
        shutil.copy(source, copy)
        for what, path in (("an empty index", f"{workdir}/empty.db"), ("a copy of the index", copy)):
            TimedConnection.spent.clear()
            index = sqlite_module.SqliteIndex(path)
            index.ensure_ready()
            done, seconds = write_one_at_a_time(index, (docs.doc(10_000_000 + i) for i in range(n)))
            print(f"\n{done:,} per-file writes into {what}: {done / seconds:,.0f} documents/s, "
                  f"{seconds * 1000 / done:.2f} ms each; per write, by statement:")
            for sql, spent in sorted(TimedConnection.spent.items(), key=lambda kv: -kv[1])[:8]:
                print(f"  {spent * 1000 / done:6.3f} ms  {sql}")
            index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="the SQLite index file")
    parser.add_argument("--build", type=int, default=0, help="first bulk-load this many generated documents")
    parser.add_argument("--explain", action="store_true", help="print the query plans too")
    parser.add_argument("--writes", type=int, default=0, help="also time each statement of this many writes")
    args = parser.parse_args()
    index = SqliteIndex(args.index)
    index.ensure_ready()
    if args.build:
        index.put_many(Documents().range(0, args.build), chunk_size=1000)
    print(f"{'query':56} {'count ms':>9} | {'page ms (3 sorts)':>20} | {'with facets ms':>14} | {'facets in SQL':>13}")
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
            in_sql = ms(lambda: conn.execute(
                f"""SELECT kind, value, count(*) FROM {index.t_terms} WHERE doc IN (SELECT d.rowid FROM {index.t_docs} d
                WHERE {where}) AND kind IN ('label', 'person', 'emotion', 'media_type') GROUP BY kind, value""",
                params).fetchall())
            print(f"{text or '<all>':56} {count:9.1f} | {' '.join(f'{p:6.1f}' for p in pages):>20} | {facets:14.1f}"
                  f" | {in_sql:13.1f}")
            if args.explain:
                for label, sql in (("count", count_sql), ("page by date taken", page_sql.replace(
                        order_by(Query(where=query.where, sort=SORTS[-1])),
                        order_by(Query(where=query.where, sort=SORTS[1]))))):
                    for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params):
                        print(f"    {label}: {row[3]}")
    index.close()
    if args.writes:
        time_writes(args.index, args.writes)


if __name__ == "__main__":
    main()
