"""The AWS path's costs: Rekognition calls per file, and the Lambda handler's import time (its cold start).

    python bench/bench_pipeline.py [--quick] [--json FILE] [--only calls|lambda] [--import-runs 7]

Rekognition calls per file: the real pipeline (`build_pipeline` with analyzer "rekognition": the real
RekognitionAnalyzer and RekognitionFaceCollection on a real boto3 client, the SQLite index, files in a folder) indexes
../shared/data/faces and ../shared/data/images. Rekognition itself cannot run here: the boto3 client is answered by
tests/support/rekognition_emulator.py (Rekognition's response shapes, worked out by the local models, with real face
matching in its collection), which counts every request per operation. Three passes: nobody enrolled; Barack Obama
and Joe Biden enrolled (from obama_2 and biden_1, as `people add` does); then a copy of every file under another
name (same bytes: the analysis is reused, no call).

Lambda handler import time: the code asset is built exactly as the CDK stack builds it (infra/bundling.py: Linux
wheels of the core and `aws` extra for CPython 3.12, then functions/mediaindex; kept in ~/.cache between runs), and a
fresh `python3.12 -S -c "import mediaindex.entrypoints.aws_lambda"` (no site-packages: only the bundle and the
standard library) is timed, with the environment the function has (tracing on). Median of --import-runs runs, as
deployed (no .pyc: Lambda's code folder is read-only, so its modules are compiled at every cold start) and with the
bytecode cached; then what the first event adds (the AWS adapters and boto3 clients `build_pipeline` creates), and
the top offenders of one `-X importtime` run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

DATA = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data"))
BILLED = ("DetectLabels", "DetectFaces", "SearchFacesByImage", "IndexFaces", "DetectText", "DetectModerationLabels",
          "CompareFaces")
PRICE_PER_CALL = 0.001  # USD, us-east-1 list price of the image calls above, first million a month (docs/deploy.md)
KNOWN_PEOPLE = (("Barack Obama", "obama_2.jpg"), ("Joe Biden", "biden_1.jpg"))


# ---- Rekognition calls per file ----------------------------------------------------------------------------------
def rekognition_calls(quick: bool) -> dict:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(name, value)  # the emulator answers before anything leaves the machine
    from mediaindex.adapters.analysis.rekognition import make_client
    from mediaindex.adapters.storage.folder import ref_for, FolderStorage
    from mediaindex.bootstrap import build_pipeline
    from mediaindex.config import Settings
    from mediaindex.domain.messages import CREATED, StorageEvent
    from mediaindex.media.picture import Picture
    from tests.support.rekognition_emulator import RekognitionEmulator

    sets = {name: sorted(p for p in (DATA / name).iterdir() if p.is_file()) for name in ("faces", "images")}
    if quick:
        sets["images"] = sets["images"][:8]
    client = make_client(Settings(aws_region="us-east-1"))
    emulator = RekognitionEmulator(client)  # one emulator: its cache of model answers serves every pass
    result: dict = {"files": {k: len(v) for k, v in sets.items()}, "passes": {}}
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        for enrolled in (False, True):
            label = "obama_biden_enrolled" if enrolled else "nobody_enrolled"
            settings = Settings(home=work / label, index_url=f"sqlite:///{work / label}.db", analyzer="rekognition",
                                aws_region="us-east-1", collection_id=f"bench-{label}")
            pipeline = build_pipeline(settings, storage=FolderStorage(), rekognition_client=client)
            before = Counter(emulator.calls)
            if enrolled:
                pipeline.faces.ensure_collection()
                for person, photo in KNOWN_PEOPLE:
                    pipeline.faces.enroll(person, Picture.from_bytes((DATA / "faces" / photo).read_bytes()),
                                          f"people/{person}/{photo}")
            enrolment = dict(Counter(emulator.calls) - before)
            passes = {}
            for set_name, files in sets.items():
                passes[set_name] = _index_all(pipeline, emulator, files, ref_for, StorageEvent, CREATED)
            copies = work / f"copies-{label}"
            copies.mkdir()
            for path in sets["faces"] + sets["images"]:
                shutil.copyfile(path, copies / f"copy of {path.name}")
            passes["copies"] = _index_all(pipeline, emulator, sorted(copies.iterdir()), ref_for, StorageEvent, CREATED)
            result["passes"][label] = {"enrolment_calls": enrolment, **passes}
    return result


def _index_all(pipeline, emulator, files, ref_for, StorageEvent, CREATED) -> dict:
    """Index every file; per file its outcome, the calls the pipeline counted, and the requests Rekognition saw."""
    per_file = []
    for path in files:
        before = Counter(emulator.calls)
        outcome = pipeline.handle(StorageEvent(CREATED, ref_for(path)))
        seen = dict(Counter(emulator.calls) - before)
        stored = pipeline.index.get(outcome.doc_id)
        per_file.append({"file": path.name, "action": outcome.action, "faces": outcome.faces,
                         "people": sorted(set(stored.doc.get("people") or [])) if stored else [],
                         "api_calls": outcome.api_calls, "requests": seen})
    operations = sorted({op for f in per_file for op in f["requests"]})
    n = len(per_file)
    billed = sum(c for f in per_file for op, c in f["requests"].items() if op in BILLED)
    return {
        "files": n,
        "actions": dict(Counter(f["action"] for f in per_file)),
        "faces_per_file": sum(f["faces"] for f in per_file) / n,
        "files_with_known_people": sum(bool(f["people"]) for f in per_file),
        "requests_per_file": {op: sum(f["requests"].get(op, 0) for f in per_file) / n for op in operations},
        "billed_calls_per_file": billed / n,
        "pipeline_counted_per_file": sum(f["api_calls"] for f in per_file) / n,
        "usd_per_1000_files": billed / n * 1000 * PRICE_PER_CALL,
        "per_file": per_file,
    }


# ---- Lambda handler import time ----------------------------------------------------------------------------------
HANDLER = "mediaindex.entrypoints.aws_lambda"
# what the first event imports on top of the handler (App.pipeline -> build_pipeline with these adapters)
FIRST_EVENT = ("mediaindex.bootstrap", "mediaindex.adapters.index.opensearch", "mediaindex.adapters.analysis.rekognition",
               "mediaindex.adapters.faces.rekognition", "mediaindex.adapters.storage.s3", "mediaindex.services.video")
TIMED_IMPORT = f"import time; t = time.perf_counter(); import {HANDLER}; print(time.perf_counter() - t)"
TIMED_FIRST_EVENT = (
    "import time, importlib; import " + HANDLER + "; t = time.perf_counter()\n"
    f"for m in {FIRST_EVENT!r}: importlib.import_module(m)\n"
    "import boto3; from mediaindex.adapters.analysis.rekognition import make_client; "
    "from mediaindex.config import Settings\n"
    "make_client(Settings.from_env()); boto3.client('s3')\n"
    "print(time.perf_counter() - t)"
)


def python312() -> str | None:
    found = sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    if found:
        return str(found[-1])
    which = shutil.which("python3.12")
    return which if which and "/shims/" not in which else None  # a pyenv shim may point at no installed 3.12


def lambda_bundle() -> Path:
    """The code asset as infra/bundling.py builds it. The pip part is kept in ~/.cache (keyed by the requirements and
    platform); functions/mediaindex is copied in afresh every run."""
    key_source = subprocess.run(
        [sys.executable, "-c", "from infra.bundling import PipBundle; b = PipBundle('x86_64'); "
         "print('\\n'.join(b.pip_command(__import__('pathlib').Path('/T'))[1:]))"],
        cwd=ROOT, env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
        capture_output=True, text=True, check=True).stdout
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mediaindex" / f"lambda-bundle-{key}"
    if not (cache / ".complete").exists():
        shutil.rmtree(cache, ignore_errors=True)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import sys, pathlib; from infra.bundling import PipBundle; "
             "PipBundle('x86_64').build(pathlib.Path(sys.argv[1]))", str(cache)],
            cwd=ROOT, env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}, check=True,
            capture_output=True)
        (cache / ".complete").write_text(f"built in {time.perf_counter() - started:.0f} s\n")
    shutil.rmtree(cache / "mediaindex", ignore_errors=True)
    shutil.copytree(ROOT / "functions" / "mediaindex", cache / "mediaindex",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    # as deployed: the bundling ships hash-checked bytecode for the runtime's CPython (infra/bundling.py precompile)
    subprocess.run([sys.executable, "-c", "import sys, pathlib; from infra.bundling import precompile; "
                    "precompile(pathlib.Path(sys.argv[1]))", str(cache)],
                   cwd=ROOT, env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}, check=True,
                   capture_output=True)
    return cache


def lambda_environment(bundle: Path | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "mediaindex-bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "mediaindex", "POWERTOOLS_METRICS_NAMESPACE": "MediaIndex",
        "POWERTOOLS_LOG_LEVEL": "INFO", "MEDIAINDEX_ANALYZER": "rekognition",
        "MEDIAINDEX_INDEX": "https://search-bench.us-east-1.es.amazonaws.com",
    }
    if bundle is not None:
        env["PYTHONPATH"] = str(bundle)
    else:
        env["PYTHONPATH"] = str(ROOT / "functions")
    return env


def _timed(python: str, args: list[str], env: dict[str, str], cwd: str) -> tuple[float, float, str]:
    """(seconds the import took inside the process, seconds of the whole process, stderr)."""
    started = time.perf_counter()
    done = subprocess.run([python, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed:\n{done.stderr[-3000:]}")
    return float(done.stdout.strip().splitlines()[-1]), wall, done.stderr


def importtime_offenders(stderr: str, top: int = 10) -> dict:
    """Time per top-level package (its modules' own times added up) and the slowest modules by their own time, from
    `-X importtime` output."""
    rows = []
    for line in stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if found:
            rows.append((int(found[1]), int(found[2]), len(found[3]) - 1, found[4]))
    packages: Counter = Counter()
    for own, _, _, name in rows:
        packages[name.split(".", 1)[0]] += own
    by_self = sorted(rows, key=lambda r: -r[0])[:top]
    return {
        "modules_imported": len(rows),
        "total_ms": sum(r[0] for r in rows) / 1000,
        "package_ms": [[name, us / 1000] for name, us in packages.most_common(top)],
        "module_self_ms": [[name, own / 1000] for own, _, _, name in by_self],
    }


def lambda_import(runs: int) -> dict:
    python = python312()
    bundle: Path | None = None
    what = ""
    if python is not None:
        try:
            bundle = lambda_bundle()
            what = f"the Lambda code asset (infra/bundling.py, core + aws extra, cp312 manylinux wheels) on {python}"
        except (subprocess.CalledProcessError, OSError) as e:
            print(f"could not build the Lambda bundle ({e}); measuring the development venv instead", file=sys.stderr)
    if bundle is None:
        python = sys.executable
        what = f"the development venv (all extras: NOT the Lambda bundle) on {python}"
    env = lambda_environment(bundle)
    flags = ["-S"] if bundle is not None else []  # -S: no site-packages, only the bundle and the standard library
    result: dict = {"measured": what, "python": python, "runs": runs}
    if bundle is not None:
        result["bundle_mb"] = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file()) / 2**20
    with tempfile.TemporaryDirectory() as cwd:
        # as deployed: a read-only code folder with the bundle's own bytecode (nothing is written)
        cold_env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
        cold = [_timed(python, [*flags, "-c", TIMED_IMPORT], cold_env, cwd) for _ in range(runs)]
        # for comparison, a bundle without bytecode: Python looks for .pyc files only under an empty prefix
        bare_env = {**cold_env, "PYTHONPYCACHEPREFIX": str(Path(cwd) / "empty-pyc")}
        bare = [_timed(python, [*flags, "-c", TIMED_IMPORT], bare_env, cwd) for _ in range(runs)]
        cached = cold
        first = [_timed(python, [*flags, "-c", TIMED_FIRST_EVENT], cold_env, cwd)[0] for _ in range(max(3, runs // 2))]
        untraced = [_timed(python, [*flags, "-c", TIMED_IMPORT], {**cold_env, "POWERTOOLS_TRACE_DISABLED": "true"},
                           cwd)[0] for _ in range(runs)]
        _, _, trace = _timed(python, [*flags, "-X", "importtime", "-c", TIMED_IMPORT], cold_env, cwd)
    result.update({
        "import_s": {"median": statistics.median(c[0] for c in cold), "min": min(c[0] for c in cold),
                     "max": max(c[0] for c in cold)},
        "process_s": {"median": statistics.median(c[1] for c in cold)},
        "import_with_pyc_s": {"median": statistics.median(c[0] for c in cached)},
        "import_without_pyc_s": {"median": statistics.median(c[0] for c in bare)},
        "import_tracing_off_s": {"median": statistics.median(untraced)},
        "first_event_adds_s": {"median": statistics.median(first)},
        "importtime": importtime_offenders(trace),
    })
    return result


# ---- report ------------------------------------------------------------------------------------------------------
def print_calls(calls: dict) -> None:
    print(f"\n== Rekognition calls per file (faces/: {calls['files']['faces']} files, images/: "
          f"{calls['files']['images']} files; emulated Rekognition, real adapters and boto3) ==")
    print(f"{'pass':<22}{'set':<8}{'files':>6}{'faces/file':>11}{'billed/file':>12}{'USD/1000':>9}  requests per file")
    for label, passes in calls["passes"].items():
        if passes["enrolment_calls"]:
            print(f"{label:<22}{'enrol':<8}{len(KNOWN_PEOPLE):>6}{'':>11}{'':>12}{'':>9}  "
                  + ", ".join(f"{op} {n}" for op, n in sorted(passes["enrolment_calls"].items())) + " (in all)")
        for set_name in ("faces", "images", "copies"):
            p = passes[set_name]
            print(f"{label:<22}{set_name:<8}{p['files']:>6}{p['faces_per_file']:>11.2f}{p['billed_calls_per_file']:>12.2f}"
                  f"{p['usd_per_1000_files']:>9.2f}  "
                  + (", ".join(f"{op} {n:.2f}" for op, n in p["requests_per_file"].items()) or "none")
                  + f"  [{', '.join(f'{a} {n}' for a, n in p['actions'].items())}; "
                  f"{p['files_with_known_people']} with a known person]")


def print_lambda(lam: dict) -> None:
    print(f"\n== Lambda handler import ({lam['measured']}) ==")
    if "bundle_mb" in lam:
        print(f"bundle: {lam['bundle_mb']:.0f} MiB unzipped")
    print(f"import {HANDLER}: median {lam['import_s']['median'] * 1000:.0f} ms of {lam['runs']} fresh processes "
          f"(min {lam['import_s']['min'] * 1000:.0f}, max {lam['import_s']['max'] * 1000:.0f}; whole process "
          f"{lam['process_s']['median'] * 1000:.0f} ms), with the bytecode the bundle ships, as deployed")
    print(f"  without bytecode: {lam['import_without_pyc_s']['median'] * 1000:.0f} ms; tracing off: "
          f"{lam['import_tracing_off_s']['median'] * 1000:.0f} ms; the first event then adds "
          f"{lam['first_event_adds_s']['median'] * 1000:.0f} ms (AWS adapters, boto3 clients)")
    it = lam["importtime"]
    print(f"-X importtime: {it['modules_imported']} modules, {it['total_ms']:.0f} ms; by package (ms): "
          + ", ".join(f"{n} {ms:.0f}" for n, ms in it["package_ms"][:8]))
    print("  slowest modules (own ms): " + ", ".join(f"{n} {ms:.0f}" for n, ms in it["module_self_ms"][:8]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="8 of the 40 photos of images/, 3 import runs")
    parser.add_argument("--only", choices=("calls", "lambda"))
    parser.add_argument("--import-runs", type=int, help="fresh processes timed (default 7, 3 with --quick)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    args = parser.parse_args()
    figures: dict = {}
    if args.only in (None, "calls"):
        figures["rekognition_calls"] = rekognition_calls(args.quick)
        print_calls(figures["rekognition_calls"])
    if args.only in (None, "lambda"):
        figures["lambda_import"] = lambda_import(args.import_runs or (3 if args.quick else 7))
        print_lambda(figures["lambda_import"])
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
