"""Run the benchmark suite and print one table (markdown) of the figures the README and docs/performance.md quote.

    python bench/run.py                       # the reference sizes (10-13 minutes on 2 cores); `make bench`
    python bench/run.py --quick               # small sizes, 1-2 minutes: checks the suite, not the figures
    python bench/run.py --only faces,index_sqlite  # some benchmarks only
    python bench/run.py --json FILE           # where the figures go (default bench/results.json; none for --quick)

Each benchmark script runs in its own process (its own memory peak, its own model loading) with `--json`, one after
the other so they do not compete for the 2 cores; what each prints goes to a log (its path is printed). The JSON
holds every figure of every script, the machine, the date and the command; the table picks the headline ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DATA = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data"))

# name -> (script, arguments at the reference sizes, arguments with --quick, time limit in seconds)
SUITE: dict[str, tuple[str, list[str], list[str], int]] = {
    "local_images": ("bench_local.py", [str(DATA / "images"), "--repeat", "2"], [str(DATA / "images")], 600),
    "local_faces": ("bench_local.py", [str(DATA / "faces"), "--repeat", "2"], [str(DATA / "faces")], 600),
    "index_sqlite": ("bench_index.py", ["--backend", "sqlite", "--docs", "100000"],
                     ["--backend", "sqlite", "--docs", "2000", "--puts", "200", "--repeat", "2"], 900),
    "index_osmem": ("bench_index.py", ["--backend", "opensearch", "--docs", "10000"],
                    ["--backend", "opensearch", "--docs", "500", "--puts", "100", "--repeat", "2"], 900),
    "scale": ("bench_scale.py", ["--docs", "50000", "--faces", "20000"],
              ["--docs", "3000", "--faces", "2000", "--repeat", "1", "--face-queries", "20"], 1200),
    "faces": ("bench_faces.py", ["--faces", "1000000"],
              ["--faces", "20000", "--queries", "20", "--enrolled", "1000", "--cluster-faces", "5000"], 1200),
    "rematch": ("bench_rematch.py", ["--docs", "10000"], ["--docs", "500"], 600),
    "video": ("bench_video.py", ["--minutes", "3"], ["--minutes", "0.5"], 900),
    "pipeline": ("bench_pipeline.py", [], ["--quick"], 900),
    "throughput": ("bench_throughput.py", [], ["--qualities", "90,70"], 900),
    "labels": ("label_accuracy.py", [], [], 600),
    "vs_face_recognition": ("bench_vs_face_recognition.py", [], [], 900),
}


def machine() -> dict[str, Any]:
    memory_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "cpus": os.cpu_count(), "memory_gib": round(memory_kb / 2**20, 1), "cpu_model": _cpu_model(),
        "python": platform.python_version(), "platform": platform.platform(), "commit": commit,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_one(name: str, quick: bool, logs: Path) -> dict[str, Any]:
    script, full, small, limit = SUITE[name]
    out = logs / f"{name}.json"
    log = logs / f"{name}.log"
    command = [sys.executable, str(BENCH / script), *(small if quick else full), "--json", str(out)]
    print(f"[{time.strftime('%H:%M:%S')}] {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    load = os.getloadavg()[0]
    with log.open("w") as f:
        try:
            done = subprocess.run(command, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=limit)
            error = None if done.returncode == 0 else f"exit code {done.returncode}"
        except subprocess.TimeoutExpired:
            error = f"took more than {limit} s"
    seconds = time.perf_counter() - started
    entry: dict[str, Any] = {"command": " ".join(command[1:]).replace(str(ROOT) + "/", ""), "seconds": round(seconds, 1),
                             "load_average_at_start": round(load, 2), "log": str(log)}
    if error is None and out.exists():
        entry["figures"] = json.loads(out.read_text())
    else:
        entry["error"] = error or "no figures written"
        tail = log.read_text(errors="replace").splitlines()[-15:]
        print(f"  FAILED ({entry['error']}); last lines of {log}:\n    " + "\n    ".join(tail), file=sys.stderr)
    print(f"  {seconds:.0f} s", file=sys.stderr, flush=True)
    return entry


# ---- the table ---------------------------------------------------------------------------------------------------
def _ms(value: float) -> str:
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def rows_local(f: dict, what: str) -> list[tuple[str, str, str]]:
    stages = f["stages_ms"]
    per_stage = ", ".join(f"{s} {v['mean']:.1f}" for s, v in stages.items() if v["mean"] >= 0.05)
    return [
        (f"Local analysis, {what}: throughput", f"**{f['pictures_per_s']:.2f} images/s**",
         f"{f['analyze_ms']['mean']:.0f} ms per picture (median {f['analyze_ms']['median']:.0f}); "
         f"{f['pictures'] // max(1, f['passes'])} pictures x {f['passes']} passes, {f['faces'] // max(1, f['passes'])} "
         f"faces; peak memory {f['peak_memory_mb']:.0f} MB; models load in {f['model_load_ms'] / 1000:.1f} s"),
        (f"Local analysis, {what}: time per stage", "mean ms per picture", per_stage),
        (f"Local analysis, {what}: time outside the models", f"**{f['outside_models_share'] * 100:.1f} %**",
         f"decoding {f['decode_share'] * 100:.1f} %, the rest conversions and result building"),
    ]


def rows_index(f: dict, what: str) -> list[tuple[str, str, str]]:
    n = f"{f['documents']:,}"
    cpu = f"; CPU p50/p95 with facets {f['query_ms_cpu']['p50']:.1f} / {f['query_ms_cpu']['p95']:.1f} ms" \
        if "query_ms_cpu" in f else ""
    return [
        (f"Index ingest, {what}", f"**{f['put_many_per_s']:,.0f} documents/s** bulk",
         f"{f['put_per_s']:,.0f} documents/s one compare-and-set `put` at a time (over {f['put_count']:,}); "
         f"bulk `put_many` of {n}"),
        (f"Query latency at {n} documents, {what}",
         f"**p50 {_ms(f['query_ms_plain']['p50'])}, p95 {_ms(f['query_ms_plain']['p95'])}**",
         f"first page of 20; with the four facets p50 {_ms(f['query_ms_facets']['p50'])}, "
         f"p95 {_ms(f['query_ms_facets']['p95'])}{cpu}; {f['queries']} timed queries"),
    ]


def rows_faces(f: dict) -> list[tuple[str, str, str]]:
    return [
        (f"Face search at {f['faces']:,} faces (local collection)",
         f"**p50 {_ms(f['nearest_ms']['p50'])}, p95 {_ms(f['nearest_ms']['p95'])}; recall@{f['k']} {f['recall']:.3f}**",
         f"{'HNSW graph (hnswlib), re-scored exactly' if f.get('search_graph') else 'exact'}: nearest {f['k']} of "
         f"{f['queries']} queries vs a float64 brute force; cold start {f['cold_start_s']:.1f} s; "
         f"identify 8 faces vs {f['enrolled']:,} enrolled {f['identify_8_faces_ms_p50']:.1f} ms; "
         f"remember a face {f['remember_1_face_ms_p50']:.1f} ms"),
        (f"Face clustering, {f['cluster_faces']:,} faces", f"{f['cluster_all_s']:.1f} s at once",
         f"then {f['cluster_incremental_s_per_1k_new_faces']:.2f} s for 1,000 new faces "
         f"({f['cluster_100_more_s']:.2f} s for 100); {f['clusters']:,} clusters"),
    ]


def rows_scale(f: dict) -> list[tuple[str, str, str]]:
    rows = [(f"One machine at {f['docs']:,} documents (SQLite), `bench_scale.py`",
             f"**query p95 {_ms(f['query_p95_ms'])}, with facets {_ms(f['facet_query_p95_ms'])}**",
             f"per-file compare-and-set writes {f['ingest_docs_per_s_first_10k']:,.0f} documents/s into the empty index, "
             f"{f['ingest_docs_per_s_last_10k']:,.0f} at the end ({f['ingest_end_over_start']:.2f} of the start); bulk "
             f"{f['bulk_docs_per_s']:,.0f} documents/s; index {f['index_bytes'] / 2**20:,.0f} MiB; "
             f"peak memory {f['peak_rss_mb']:,.0f} MB"
             + (f"; the query side built in {f['query_side_build_s']:.1f} s" if "query_side_build_s" in f else ""))]
    if f.get("faces"):
        rows.append((f"Face search at {f['faces']:,} faces, `bench_scale.py`",
                     f"**p50 {_ms(f['face_search_p50_ms'])}; recall@10 {f['face_recall_at_10']:.3f}**",
                     f"clustering every face {f['cluster_all_s']:.1f} s, then 1,000 new faces "
                     f"{f['cluster_incremental_s_per_1k_new_faces']:.2f} s"))
    return rows


def rows_rematch(f: dict) -> list[tuple[str, str, str]]:
    return [(f"Re-match after an enrolment, {f['documents']:,} pictures", f"{f['after_enrolment_s']:.2f} s",
             f"{f['faces']:,} remembered faces; after removing the person {f['after_removal_s']:.2f} s")]


def rows_video(f: dict) -> list[tuple[str, str, str]]:
    rows = []
    for r in f["runs"]:
        rows.append((f"Video, {r['name']}", f"**{r['s_per_min']:.1f} s per minute**",
                     f"{r['duration_s']:.0f} s of video, a frame every {r['interval_s']:g} s: {r['frames_sampled']} sampled, "
                     f"{r['frames_skipped']} skipped as unchanged, {r['frames_analysed']} analysed, "
                     f"{r.get('frames_followed', 0)} following frames searched for faces "
                     f"({f['analyzer']}); decoding and sampling alone {r['decode_s_per_min']:.2f} s per minute"))
    return rows


def rows_throughput(f: dict) -> list[tuple[str, str, str]]:
    stages = ", ".join(f"{k} {v:.1f}" for k, v in f["stage_ms"].items() if v >= 0.05 and k != "decode")
    return [(f"`mediaindex index`, {f['photos']} distinct photos, {f['workers']} workers ({','.join(f['features'])})",
             f"**{f['images_per_s']:.1f} images/s**, {f['share_of_limit']:.2f} of the model-bound limit",
             f"{f['wall_s']:.1f} s from start to exit (start-up and model loading included); limit "
             f"{f['model_bound_images_per_s']:.1f} images/s = {f['cores']} cores / {f['model_ms_per_picture']:.1f} ms of "
             f"models a picture on one thread ({stages})")]


def rows_labels(f: dict) -> list[tuple[str, str, str]]:
    a, b = f["without_check"], f["with_check"]
    return [(f"Labels on the {b['photos']} labelled photos ({b['animal_photos']} of animals)",
             f"**{b['animal_photos_with_a_wrong_animal_label']:.2f}** of animal photos with a wrong animal label",
             f"without the check against the classifier {a['animal_photos_with_a_wrong_animal_label']:.2f}; own class "
             f"among labels {b['own_class_among_labels']:.2f} (before {a['own_class_among_labels']:.2f}), or a broader "
             f"term {b['own_class_or_broader_among_labels']:.2f}; most confident label right "
             f"{b['most_confident_label_right']:.2f} (before {a['most_confident_label_right']:.2f})")]


def rows_vs_face_recognition(f: dict) -> list[tuple[str, str, str]]:
    rows = []
    for task, results in f["tasks"].items():
        base = results["face_recognition CLI"]
        for name in ("mediaindex, people only", "mediaindex, default features"):
            r = results[name]
            commands = ", ".join(f"{c} {v['seconds']:.2f} s" for c, v in r["commands"].items())
            rows.append((f"Known and unknown faces (6 known, {task}), {name}",
                         f"**{r['speedup']:.2f}x** faster than the face_recognition CLI",
                         f"{r['seconds']:.1f} s against {base['seconds']:.1f} s end to end ({commands}), models "
                         f"loading included; CPU {r['cpu_seconds']:.1f} s against {base['cpu_seconds']:.1f} s; "
                         f"{r['right']}/{r['photos']} photos right (face_recognition {base['right']}/{base['photos']})"))
    one = f["one photo"]["people"]
    rows.append(("One photo, people only: `people add NAME PHOTO`, `index PHOTO`",
                 f"**{one['people add, one photo']['seconds']:.2f} s**, **{one['index, one photo']['seconds']:.2f} s**",
                 f"wall, from the command's start to its exit; face_recognition's command on one photo "
                 f"{f['one photo']['face_recognition CLI, one photo']['seconds']:.1f} s"))
    return rows


def rows_pipeline(f: dict) -> list[tuple[str, str, str]]:
    rows = []
    calls = f.get("rekognition_calls")
    if calls:
        for label, title in (("nobody_enrolled", "nobody enrolled"), ("obama_biden_enrolled", "Obama and Biden enrolled")):
            p = calls["passes"][label]
            for set_name in ("faces", "images"):
                s = p[set_name]
                detail = ", ".join(f"{op} {n:.2f}" for op, n in s["requests_per_file"].items())
                rows.append((f"Rekognition calls per file, {set_name}/ ({s['files']} files), {title}",
                             f"**{s['billed_calls_per_file']:.2f}** (${s['usd_per_1000_files']:.2f} per 1,000 files)",
                             f"{detail}; {s['faces_per_file']:.2f} faces a file"))
            copies = p["copies"]
            rows.append((f"Rekognition calls per file, a copy (same bytes), {title}",
                         f"**{copies['billed_calls_per_file']:.2f}**",
                         f"{copies['files']} copies: analysis reused ({', '.join(f'{a} {n}' for a, n in copies['actions'].items())})"))
    lam = f.get("lambda_import")
    if lam:
        it = lam["importtime"]
        rows.append(("Lambda handler import time (cold start)",
                     f"**{lam['import_s']['median'] * 1000:,.0f} ms** median of {lam['runs']}",
                     f"`import mediaindex.entrypoints.aws_lambda` in a fresh process, {lam['measured']}; "
                     f"with the bytecode the bundle ships, as deployed (without it {lam['import_without_pyc_s']['median'] * 1000:,.0f} ms; tracing off "
                     f"{lam['import_tracing_off_s']['median'] * 1000:,.0f} ms); the first event adds "
                     f"{lam['first_event_adds_s']['median'] * 1000:,.0f} ms; top packages (ms): "
                     + ", ".join(f"{n} {ms:.0f}" for n, ms in it["package_ms"][:5])))
    return rows


TABLE: list[tuple[str, Callable[[dict], list[tuple[str, str, str]]]]] = [
    ("local_images", lambda f: rows_local(f, "images/ (40 ImageNet photos)")),
    ("local_faces", lambda f: rows_local(f, "faces/ (13 portraits)")),
    ("index_sqlite", lambda f: rows_index(f["sqlite"], "SQLite")),
    ("index_osmem", lambda f: rows_index(f["osmem"], "osmem-server (OpenSearch stand-in)")),
    ("faces", rows_faces),
    ("scale", rows_scale),
    ("pipeline", rows_pipeline),
    ("video", rows_video),
    ("rematch", rows_rematch),
    ("throughput", rows_throughput),
    ("labels", rows_labels),
    ("vs_face_recognition", rows_vs_face_recognition),
]


def table(results: dict[str, Any]) -> str:
    lines = ["| figure | value | how / details |", "|---|---|---|"]
    for name, rows in TABLE:
        entry = results.get(name)
        if entry is None:
            continue
        if "figures" not in entry:
            lines.append(f"| {name} | FAILED: {entry['error']} | log: {entry['log']} |")
            continue
        for figure, value, how in rows(entry["figures"]):
            lines.append(f"| {figure} | {value} | {how} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: checks that the suite runs")
    parser.add_argument("--only", help=f"comma list of: {', '.join(SUITE)}")
    parser.add_argument("--json", type=Path, help="write the figures here (default bench/results.json; --quick: none)")
    parser.add_argument("--logs", type=Path, help="folder for each benchmark's output (default: a temporary folder)")
    args = parser.parse_args()
    names = list(SUITE) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(SUITE)}")
    out = args.json or (None if args.quick else BENCH / "results.json")
    logs = args.logs or Path(tempfile.mkdtemp(prefix="mediaindex-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/run.py" + "".join(f" {a}" for a in sys.argv[1:]),
        "quick": args.quick, "machine": machine(), "results": {},
    }
    for name in names:
        report["results"][name] = run_one(name, args.quick, logs)
    report["seconds"] = round(time.perf_counter() - started, 1)
    m = report["machine"]
    print(f"\nmediaindex benchmarks, {report['date']}, commit {m['commit']}: {m['cpus']} CPUs ({m['cpu_model']}), "
          f"{m['memory_gib']} GiB, Python {m['python']}; `{report['command']}` took {report['seconds'] / 60:.1f} min"
          + (" (--quick: small sizes, not reference figures)" if args.quick else "") + "\n")
    print(table(report["results"]))
    print(f"\nlogs of each benchmark: {logs}")
    if out:
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures: {out}")
    return 1 if any("error" in r for r in report["results"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
