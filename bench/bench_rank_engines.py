"""Ranked free text on three engines, on the same documents and the same queries: our in-memory query side
(bitmap_engine.QueryColumns.scores, confidence x tier x option weight), SQLite FTS5 ordered by bm25 (a table
beside the store of record, in the same file), and Tantivy (its BM25, in its own directory).

    python bench/bench_rank_engines.py --docs 100000 --json /tmp/rank.json
    python bench/bench_rank_engines.py --quick

N documents are made as bench/bench_scale.py makes them (its `Documents`: a pool of tests/index/corpus.py random_doc
documents copied under new keys and dates) and written into one SQLite store of record with `put_many`. Each engine
then runs in a process of its own (so its memory is its own): it builds its index from the store of record (the
build time), answers every query once to warm up and then --repeat times (first page of 20, the 20 documents read
from the store as a search returns them: p50/p95), and reports its size and resident memory.

BM25 cannot see a label's confidence or how specifically it names the word (its own name, a parent, a broader
term), nor the weight of a related label ("beach" -> seashore 0.8): those are our ranking. Each BM25 engine is run
in three layouts that try to carry them:

  plain    one column per tier (own names, parents, broader) + people, faces, words of text and path, facts;
           column weights 1.0 / 0.8 / 0.5 / 1.0 / 0.9 / 0.3 / 1.0 (bm25's per-column weights, Tantivy's boosts)
  repeat   as plain, each name repeated round(confidence / 10) times (term frequency standing for confidence)
  buckets  one column per tier and 5-point confidence band (60 label columns), weighted tier x band middle / 100

Agreement with our ranking, per query: overlap@20 (the share of our first 20 ids in theirs), and, since many of our
scores tie (confidence has one decimal) and ties are broken by date, `tie_aware@20`: the share of their 20 whose
score by our ranking (tests/index/reference.py) is at least our 20th score, i.e. that could stand in our first page;
and `score_kept`: the sum of our scores of their 20 over the sum of our 20.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions"), str(ROOT / "bench")]

from mediaindex.adapters.index import common  # noqa: E402
from mediaindex.domain.expressions import (  # noqa: E402
    PEOPLE_WORDS, TIER_WEIGHTS, And, Concept, Expr, FaceHas, FactIs, LabelIs, PersonIs, TextHas, scoring_concepts,
    text_tokens,
)
from mediaindex.domain.facts import document_facts  # noqa: E402
from mediaindex.domain.query_syntax import parse_query  # noqa: E402
from proc_memory import peak_rss_mb, rss_mb  # noqa: E402

# single words, then sentences of 2 to 4 concepts (the words of the synthetic corpus: labels, people, text)
QUERIES = [
    "dog", "cat", "person", "beach", "husky", "animal", "snow", "cake", "obama", "birthday", "woman", "girl",
    "dog beach", "cat tree", "person snow", "dog in the snow", "woman with a cake", "happy birthday",
    "car on the main street", "obama on the beach", "a person with a dog on the beach",
    "girl with a bicycle in the snow", "husky in the snow near a tree", "ada lovelace with a cat",
]
QUICK_QUERIES = ["dog", "person", "obama", "dog beach", "a person with a dog on the beach", "happy birthday"]
LAYOUTS = ("plain", "repeat", "buckets")
ENGINES = ("ours", *(f"fts5-{layout}" for layout in LAYOUTS), *(f"tantivy-{layout}" for layout in LAYOUTS))
TIERS = ("own", "parent", "broader")
BANDS = 20  # 5-point confidence bands, 0-100
FIXED = {"people": 1.0, "face": 0.9, "text": 0.3, "facts": 1.0}  # expressions.OPTION_ANSWERS as column weights
AGE_WORDS = sorted({high for attrs in PEOPLE_WORDS.values() for attr, value in attrs if attr == "age"
                    for _, high in [value]})  # the ages free text asks of a face: under 2, 12, 17


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def tree_bytes(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


# ---- what a BM25 engine indexes of a document ------------------------------------------------------------------------
def columns_for(layout: str) -> dict[str, float]:
    """The columns (fields) of a layout and each one's weight."""
    if layout == "buckets":
        labels = {f"{tier}_{band:02d}": TIER_WEIGHTS[t] * (band * 5 + 2.5) / 100
                  for t, tier in enumerate(TIERS) for band in range(BANDS)}
    else:
        labels = {tier: TIER_WEIGHTS[t] for t, tier in enumerate(TIERS)}
    return {**labels, **FIXED}


def label_columns(layout: str) -> list[str]:
    return [c for c in columns_for(layout) if c not in FIXED]


def face_tokens(doc: dict[str, Any]) -> list[str]:
    """A face's attributes that free text asks for (man, woman, child, girl...) as words: male, female, ageto12."""
    out = []
    for face in doc.get("faces") or []:
        if face.get("gender"):
            out.append(str(face["gender"]).lower())
        if face.get("age_low") is not None:
            out += [f"ageto{high}" for high in AGE_WORDS if face["age_low"] <= high]
    return out


def fields_of(doc: dict[str, Any], layout: str) -> dict[str, str]:
    """A searchable document as the words of each column, already tokenised as our index tokenises them."""
    fields: dict[str, list[str]] = {c: [] for c in columns_for(layout)}
    for label in doc.get("labels") or []:
        confidence = float(label.get("confidence") or 0.0)
        for name, tier in common.label_entry_tiers(label):
            words = text_tokens(name)
            if layout == "buckets":
                fields[f"{TIERS[tier]}_{min(BANDS - 1, int(confidence // 5)):02d}"] += words
            elif layout == "repeat":
                fields[TIERS[tier]] += words * max(1, round(confidence / 10))
            else:
                fields[TIERS[tier]] += words
    fields["people"] = [w for p in common.people_lower(doc) for w in text_tokens(p)]
    fields["face"] = face_tokens(doc)
    fields["text"] = text_tokens(doc.get("text")) + text_tokens(doc.get("key"))
    facts = document_facts(doc)
    fields["facts"] = [w for name in ("place", "camera", "kind") for v in facts.get(name, []) for w in text_tokens(v)]
    return {name: " ".join(words) for name, words in fields.items()}


def option_parts(option: Expr, layout: str) -> list[tuple[list[str], list[list[str]]]] | None:
    """One option of a concept as (columns, phrases that must all be there); None: nothing a BM25 engine indexes."""
    if isinstance(option, LabelIs) and option.min_confidence is None:
        return [(label_columns(layout), [text_tokens(form)]) for form in option.forms if text_tokens(form)]
    if isinstance(option, PersonIs):
        words = text_tokens(option.name)
        return [(["people"], [[w] for w in words])] if words else None
    if isinstance(option, TextHas):
        if not option.tokens:
            return None
        return [(["text"], [option.tokens] if option.phrase else [[w] for w in option.tokens])]
    if isinstance(option, (FaceHas, And)):
        words = []
        for part in (option.parts if isinstance(option, And) else (option,)):
            if not isinstance(part, FaceHas):
                return None
            if part.attr == "gender":
                words.append([part.value])
            elif part.attr == "age" and part.value[0] is None:
                words.append([f"ageto{part.value[1]}"])
            else:
                return None
        return [(["face"], words)]
    if isinstance(option, FactIs) and option.field in ("place", "camera", "kind"):
        words = text_tokens(option.value)
        return [(["facts"], [words])] if words else None
    return None


def concepts_of(where: Expr) -> list[Concept]:
    """The concepts of free text (a Concept, or the AND of several); anything else is not what this measures."""
    parts = where.parts if isinstance(where, And) else (where,)
    if not all(isinstance(p, Concept) for p in parts):
        raise ValueError(f"only free-text concepts are benchmarked, not {where!r}")
    return scoring_concepts(where)


def fts5_match(where: Expr, layout: str) -> str:
    """The query as an FTS5 MATCH: the AND of its concepts, each the OR of its options (a column filter per option;
    FTS5 has no weight per phrase, so an option's weight is lost)."""
    def phrase(words: list[str]) -> str:
        return '"' + " ".join(words) + '"'

    concepts = []
    for concept in concepts_of(where):
        options = []
        for option in concept.options:
            for columns, phrases in option_parts(option, layout) or []:
                inner = " AND ".join(phrase(p) for p in phrases)
                options.append(f"{{{' '.join(columns)}}} : ({inner})")
        concepts.append("(" + " OR ".join(options) + ")")
    return " AND ".join(concepts)


def tantivy_query(where: Expr, layout: str, schema: Any) -> Any:
    """The query for Tantivy: MUST every concept, each the best (disjunction max) of its options, each option
    boosted by its weight, each column by its weight."""
    import tantivy

    weights = columns_for(layout)

    def words_in(column: str, words: list[str]) -> Any:
        return (tantivy.Query.term_query(schema, column, words[0]) if len(words) == 1
                else tantivy.Query.phrase_query(schema, column, words))

    concepts = []
    for concept in concepts_of(where):
        options = []
        for option, weight in zip(concept.options, concept.weights):
            for columns, phrases in option_parts(option, layout) or []:
                per_column = []
                for column in columns:
                    parts = [words_in(column, p) for p in phrases]
                    query = parts[0] if len(parts) == 1 else tantivy.Query.boolean_query(
                        [(tantivy.Occur.Must, p) for p in parts])
                    per_column.append(tantivy.Query.boost_query(query, weights[column] * weight))
                options.append(per_column[0] if len(per_column) == 1
                               else tantivy.Query.disjunction_max_query(per_column))
        concepts.append((tantivy.Occur.Must, tantivy.Query.disjunction_max_query(options)))
    return tantivy.Query.boolean_query(concepts)


# ---- the engines (each in its own process) ---------------------------------------------------------------------------
def searchable_rows(db: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(rowid, document) of every searchable document of the store of record."""
    conn = sqlite3.connect(db)
    try:
        for rowid, payload in conn.execute(
                "SELECT d.rowid, b.doc FROM media_docs d JOIN media_bodies b ON b.rowid = d.rowid "
                "WHERE d.status = 'indexed' ORDER BY d.rowid"):
            yield rowid, json.loads(payload)
    finally:
        conn.close()


def bodies(conn: sqlite3.Connection, rowids: list[int]) -> list[dict[str, Any]]:
    """The page's documents from the store of record, in the page's order (as a search returns them)."""
    found = dict(conn.execute("SELECT rowid, doc FROM media_bodies WHERE rowid IN (SELECT value FROM json_each(?))",
                              (json.dumps(rowids),)).fetchall())
    return [json.loads(found[r]) for r in rowids]


def timed(queries: Sequence[str], repeat: int, run: Callable[[str], list[str]]) -> dict[str, Any]:
    per_query, everything = {}, []
    for text in queries:
        ids = run(text)  # warm-up
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            run(text)
            times.append((time.perf_counter() - started) * 1000)
        everything += times
        per_query[text] = {"ids": ids, "p50_ms": statistics.median(times), "p95_ms": percentile(times, 95)}
    return {"queries": per_query, "p50_ms": statistics.median(everything), "p95_ms": percentile(everything, 95)}


def run_ours(db: str, workdir: str, queries: Sequence[str], repeat: int) -> dict[str, Any]:
    from mediaindex.adapters.index.sqlite import SqliteIndex
    from mediaindex.domain.query import Query

    figures: dict[str, Any] = {"rss_before_mb": rss_mb()}
    index = SqliteIndex(db)
    started = time.perf_counter()
    index.search(Query(limit=20))  # builds the query side from the file (and saves it beside, from 20,000)
    figures["build_s"] = time.perf_counter() - started
    snapshot = f"{db}.{index.name}.query"
    figures["size_bytes"] = os.path.getsize(snapshot) if os.path.exists(snapshot) else None
    figures["rss_after_build_mb"] = rss_mb()
    prepared = {text: Query(where=parse_query(text), limit=20) for text in queries}
    figures.update(timed(queries, repeat, lambda text: [h["id"] for h in index.search(prepared[text]).hits]))
    figures["totals"] = {text: index.search(prepared[text]).total for text in queries}
    figures["rss_after_queries_mb"] = rss_mb()
    if figures["size_bytes"]:
        started = time.perf_counter()
        SqliteIndex(db).search(Query(limit=20))  # another process's view: loads the saved query side
        figures["load_s"] = time.perf_counter() - started
    figures["keep_in_step"] = keep_ours_in_step(index, Query(where=parse_query(queries[0]), limit=20))
    index.close()
    return figures


def keep_ours_in_step(index: Any, query: Any) -> dict[str, Any]:
    """1,000 documents changed (one transaction each), then the first search, which applies the change log."""
    docs = [d for _, d in zip(range(1000), index.iter_documents())]
    started = time.perf_counter()
    for doc in docs:
        index.put({**doc, "indexed_at": "2025-01-01T00:00:00.000Z"}, index.get(doc["id"]).version)
    writes = time.perf_counter() - started
    started = time.perf_counter()
    index.search(query)
    return {"changed": len(docs), "writes_s": writes, "next_search_ms": (time.perf_counter() - started) * 1000}


def run_fts5(db: str, workdir: str, queries: Sequence[str], repeat: int, layout: str) -> dict[str, Any]:
    figures: dict[str, Any] = {"rss_before_mb": rss_mb()}
    table = f"rank_{layout}"
    weights = columns_for(layout)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA cache_size = -65536")  # as SqliteIndex
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    started = time.perf_counter()
    conn.execute(f"CREATE VIRTUAL TABLE {table} USING fts5({', '.join(weights)}, "
                 "tokenize = 'unicode61 remove_diacritics 2', detail = full)")
    insert = f"INSERT INTO {table} (rowid, {', '.join(weights)}) VALUES (?{', ?' * len(weights)})"
    conn.execute("BEGIN")
    conn.executemany(insert, ((rowid, *fields_of(doc, layout).values()) for rowid, doc in searchable_rows(db)))
    conn.execute("COMMIT")
    figures["build_s"] = time.perf_counter() - started
    figures["size_bytes"] = conn.execute(  # its shadow tables (content, index, sizes), pages in use
        "SELECT sum(pgsize) FROM dbstat WHERE name LIKE ? ESCAPE '!'", (f"{table}!_%",)).fetchone()[0]
    figures["rss_after_build_mb"] = rss_mb()
    rank = f"bm25({table}, {', '.join(f'{w:.4f}' for w in weights.values())})"
    matches = {text: fts5_match(parse_query(text), layout) for text in queries}
    figures["match_examples"] = {text: matches[text] for text in queries[:1]}
    sql = f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY {rank} LIMIT 20"

    def run(text: str) -> list[str]:
        rowids = [r[0] for r in conn.execute(sql, (matches[text],))]
        return [d["id"] for d in bodies(conn, rowids)]

    figures.update(timed(queries, repeat, run))
    figures["totals"] = {text: conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?",
                                            (matches[text],)).fetchone()[0] for text in queries}
    figures["rss_after_queries_mb"] = rss_mb()
    # kept in step: the row rewritten in the same transaction as the document (as SqliteIndex._store does its FTS5 row)
    rows = list(zip(range(1000), searchable_rows(db)))
    started = time.perf_counter()
    for _, (rowid, doc) in rows:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"DELETE FROM {table} WHERE rowid = ?", (rowid,))
        conn.execute(insert, (rowid, *fields_of(doc, layout).values()))
        conn.execute("COMMIT")
    figures["keep_in_step"] = {"changed": len(rows), "writes_s": time.perf_counter() - started}
    conn.execute(f"DROP TABLE {table}")
    conn.close()
    return figures


def run_tantivy(db: str, workdir: str, queries: Sequence[str], repeat: int, layout: str) -> dict[str, Any]:
    import tantivy

    figures: dict[str, Any] = {"rss_before_mb": rss_mb(), "version": str(getattr(tantivy, "__version__", ""))}
    weights = columns_for(layout)
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("rowid", stored=True, indexed=True, fast=True)
    for name in weights:
        builder.add_text_field(name, tokenizer_name="default")
    schema = builder.build()
    path = os.path.join(workdir, f"tantivy-{layout}")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    started = time.perf_counter()
    index = tantivy.Index(schema, path=path)
    writer = index.writer(heap_size=128_000_000, num_threads=1)  # one thread, as our build and FTS5's

    def document(rowid: int, doc: dict[str, Any]) -> Any:
        return tantivy.Document(rowid=rowid, **{k: v for k, v in fields_of(doc, layout).items() if v})

    for rowid, doc in searchable_rows(db):
        writer.add_document(document(rowid, doc))
    writer.commit()
    writer.wait_merging_threads()
    figures["build_s"] = time.perf_counter() - started
    figures["size_bytes"] = tree_bytes(path)
    figures["rss_after_build_mb"] = rss_mb()
    index.reload()
    searcher = index.searcher()
    figures["segments"] = searcher.num_segments
    prepared = {text: tantivy_query(parse_query(text), layout, schema) for text in queries}
    conn = sqlite3.connect(db)

    def run(text: str) -> list[str]:
        hits = searcher.search(prepared[text], 20).hits
        rowids = [searcher.doc(address)["rowid"][0] for _, address in hits]
        return [d["id"] for d in bodies(conn, rowids)]

    figures.update(timed(queries, repeat, run))
    figures["totals"] = {text: searcher.search(prepared[text], 1, count=True).count for text in queries}
    figures["rss_after_queries_mb"] = rss_mb()
    # kept in step: a separate directory with its own commit, one writer at a time (a lock file in the directory)
    writer = index.writer(heap_size=50_000_000, num_threads=1)
    rows = list(zip(range(1000), searchable_rows(db)))
    started = time.perf_counter()
    for _, (rowid, doc) in rows[:100]:  # each change committed on its own, as each file is written
        writer.delete_documents("rowid", rowid)
        writer.add_document(document(rowid, doc))
        writer.commit()
    each = (time.perf_counter() - started) / max(1, len(rows[:100]))
    started = time.perf_counter()
    for _, (rowid, doc) in rows:
        writer.delete_documents("rowid", rowid)
        writer.add_document(document(rowid, doc))
    writer.commit()
    writer.wait_merging_threads()
    figures["keep_in_step"] = {"changed": len(rows), "commit_each_s_per_1k": each * 1000,
                               "one_commit_s": time.perf_counter() - started}
    index.reload()
    figures["segments_after_changes"] = index.searcher().num_segments
    conn.close()
    return figures


def worker(engine: str, db: str, workdir: str, queries: Sequence[str], repeat: int) -> dict[str, Any]:
    if engine == "ours":
        figures = run_ours(db, workdir, queries, repeat)
    elif engine.startswith("fts5-"):
        figures = run_fts5(db, workdir, queries, repeat, engine.removeprefix("fts5-"))
    else:
        figures = run_tantivy(db, workdir, queries, repeat, engine.removeprefix("tantivy-"))
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


# ---- the run ---------------------------------------------------------------------------------------------------------
def build_store(n: int, db: str) -> dict[str, Any]:
    from bench_scale import Documents

    from mediaindex.adapters.index.sqlite import SqliteIndex

    started = time.perf_counter()
    docs = Documents()
    index = SqliteIndex(db)
    index.ensure_ready()
    written = index.put_many(docs.range(0, n), chunk_size=1000)
    index.close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    searchable = conn.execute("SELECT count(*) FROM media_docs WHERE status = 'indexed'").fetchone()[0]
    conn.close()
    return {"written": written, "searchable": searchable, "store_build_s": time.perf_counter() - started,
            "store_bytes": os.path.getsize(db)}


def agreement(db: str, queries: Sequence[str], ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """How close each engine's first page is to ours (see the module docstring), per query and on average."""
    import numpy as np

    from tests.index.reference import relevance

    from mediaindex.adapters.index.sqlite import SqliteIndex
    from mediaindex.domain.expressions import resolve_people

    index = SqliteIndex(db)
    people = index.person_names()
    per_query = {}
    for text in queries:
        where = resolve_people(parse_query(text), lambda: people)
        mine, other = ours["queries"][text]["ids"], theirs["queries"][text]["ids"]
        found = index.get_many(list({*mine, *other}))
        score = {i: float(np.float32(relevance(where, v.doc))) for i, v in found.items()}
        floor = min((score[i] for i in mine), default=0.0)
        best = sum(score[i] for i in mine)
        per_query[text] = {
            "overlap_at_20": len(set(mine) & set(other)) / max(1, len(mine)),
            "tie_aware_at_20": sum(score.get(i, 0.0) >= floor for i in other) / max(1, len(mine)),
            "score_kept": sum(score.get(i, 0.0) for i in other) / best if best else 1.0,
            "same_total": ours["totals"][text] == theirs["totals"][text],
        }
    index.close()
    mean = {k: statistics.mean(float(q[k]) for q in per_query.values())
            for k in ("overlap_at_20", "tie_aware_at_20", "score_kept", "same_total")}
    return {"queries": per_query, **mean}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=None, help="documents (default 100,000; 300 with --quick)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs of each query (default 20; 2 --quick)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run: few documents, queries and runs")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, of {', '.join(ENGINES)}")
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    parser.add_argument("--workdir", help="where the files go (default: a temporary folder)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one engine, in a process of its own
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    queries = QUICK_QUERIES if args.quick else QUERIES
    repeat = args.repeat or (2 if args.quick else 20)
    if args.worker:
        figures = worker(args.worker, args.db, args.workdir, queries, repeat)
        print(json.dumps(figures))
        return figures

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines {', '.join(sorted(unknown))}; choose from {', '.join(ENGINES)}")
    n = args.docs or (300 if args.quick else 100_000)
    began = time.perf_counter()
    report: dict[str, Any] = {
        "docs": n, "repeat": repeat, "quick": args.quick, "queries": list(queries), "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version, "python": sys.version.split()[0],
        "load_average_at_start": os.getloadavg()[0],
        "command": " ".join(["bench/bench_rank_engines.py", *(sys.argv[1:] if argv is None else argv)]),
        "engines": {}, "skipped": {},
    }
    if any(e.startswith("tantivy") for e in engines) and importlib.util.find_spec("tantivy") is None:
        reason = "the tantivy package is not importable (pip install tantivy, then put it on PYTHONPATH)"
        print(f"Tantivy skipped: {reason}", flush=True)
        for e in [e for e in engines if e.startswith("tantivy")]:
            report["skipped"][e] = reason
            engines.remove(e)
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs",
          flush=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        db = os.path.join(workdir, "index.db")
        report["store"] = build_store(n, db)
        print(f"store of record: {report['store']['written']:,} documents ({report['store']['searchable']:,} "
              f"searchable) in {report['store']['store_build_s']:.1f} s", flush=True)
        for engine in engines:
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--db", db,
                       "--workdir", workdir, "--repeat", str(repeat), *(["--quick"] if args.quick else [])]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{engine} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            report["engines"][engine] = figures
            print(f"{engine:16} build {figures['build_s']:6.1f} s | size {(figures['size_bytes'] or 0) / 1e6:7.1f} MB"
                  f" | peak RSS {figures['peak_rss_mb']:6.0f} MB | p50 {figures['p50_ms']:7.2f} ms p95 "
                  f"{figures['p95_ms']:7.2f} ms", flush=True)
        if "ours" in report["engines"]:
            for engine, figures in report["engines"].items():
                if engine != "ours":
                    figures["agreement"] = agreement(db, queries, report["engines"]["ours"], figures)
    report["elapsed_s"] = time.perf_counter() - began
    report["load_average_at_end"] = os.getloadavg()[0]
    print_tables(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


def print_tables(report: dict[str, Any]) -> None:
    engines = report["engines"]
    print(f"\n| engine ({report['docs']:,} documents) | build s | size MB | peak RSS MB | p50 ms | p95 ms | "
          f"overlap@20 | tie-aware@20 | score kept | same total |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for engine, f in engines.items():
        a = f.get("agreement")
        agree = (f"{a['overlap_at_20']:.2f} | {a['tie_aware_at_20']:.2f} | {a['score_kept']:.2f} | "
                 f"{a['same_total']:.2f}") if a else "(reference) | | | |"
        print(f"| {engine} | {f['build_s']:.1f} | {(f['size_bytes'] or 0) / 1e6:.1f} | {f['peak_rss_mb']:.0f} | "
              f"{f['p50_ms']:.2f} | {f['p95_ms']:.2f} | {agree}")
    for engine, reason in report["skipped"].items():
        print(f"| {engine} | skipped: {reason} |")
    names = list(engines)
    if not names:
        return
    print(f"\n| query (p50 ms; tie-aware@20 against ours) | {' | '.join(names)} |")
    print(f"|---|{'---|' * len(names)}")
    for text in report["queries"]:
        cells = []
        for engine in names:
            q = engines[engine]["queries"][text]
            a = engines[engine].get("agreement", {}).get("queries", {}).get(text)
            cells.append(f"{q['p50_ms']:.1f}" + (f" ({a['tie_aware_at_20']:.2f})" if a else ""))
        print(f"| {text} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
