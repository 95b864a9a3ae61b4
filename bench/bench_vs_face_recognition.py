"""Known and unknown faces, end to end: mediaindex against the face_recognition command line on the same tasks,
and where the seconds of a short run go.

    python bench/bench_vs_face_recognition.py [--cpus 2] [--runs 2] [--json FILE] [--functions DIR] [--no-large]

The task, as face_recognition's README sets it: a folder of known people, one photo each (named after the person),
and a folder of photos to identify. The known people are the six of ../shared/data/faces, from one photo each.
- **13 photos**: every photo of ../shared/data/faces (the known photos among them, the other photos of the same
  people, a 32-bit RGBA copy, a photo of two people).
- **106 photos**: those 13 and a mirrored copy of each, the 40 photos of ../shared/data/images (animals, objects,
  a few strangers' faces: nobody known) and a mirrored copy of each. Mirrored copies are new bytes (nothing is
  reused by content) with the same people in them.
- **one photo**: `people add NAME PHOTO` of one photo into a fresh home, and `index` of one photo (obama_2.jpg)
  into a home where the six people are enrolled; face_recognition's nearest equivalent is its whole command on
  one unknown photo (it encodes the six known photos every time).

- face_recognition 1.3.0 (dlib HOG, upsampled once, and dlib's ResNet; tolerance 0.6) runs in a throwaway virtual
  environment made on first use under ~/.cache/mediaindex-bench/ with `pip install dlib-bin "setuptools<81" click
  face_recognition_models numpy pillow` and `pip install --no-deps face_recognition`: `face_recognition --cpus N KNOWN UNKNOWN`.
- mediaindex, in a fresh MEDIAINDEX_HOME: `mediaindex people add --from KNOWN`, then `mediaindex index UNKNOWN
  --workers N`, then `mediaindex search --json` for the names it found; with MEDIAINDEX_FEATURES=people (faces
  and names only, the same work as face_recognition's), and again with labels,faces,people (the default features
  less text, which face_recognition does not read).

Each task is timed from its first command's start to its last one's exit, models loading included, and each
command on its own (wall seconds, and the CPU seconds of the process and its children: on a shared machine the
CPU seconds move less than the wall; face_recognition's are measured by one more run with --cpus 1, since the
processes of its pool are never waited for and their CPU time is counted nowhere). Every task runs `--runs` times, the tools taking turns; the median is
reported. A photo counts as right when the set of people named in it is exactly the set that is in it.

Python bytecode: pip compiles an installed package's modules; a source checkout run with PYTHONDONTWRITEBYTECODE
compiles mediaindex's ~250 modules again in every process (0.1-0.15 s each). The mediaindex commands here run with
a bytecode cache of their own (PYTHONPYCACHEPREFIX in the work folder, filled by one untimed run), as installed.

The breakdown (`--json` key "breakdown"): import time of each heavy package and of the CLI, and each model's load
time, measured in fresh processes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data"))
KNOWN = {"Barack Obama": "obama_1.jpg", "Joe Biden": "biden_1.jpg", "Guido van Rossum": "guido_van_rossum_1.jpg",
         "Steve Wozniak": "steve_wozniak_1.jpg", "Lin-Manuel Miranda": "lin_manuel_miranda_1.png",
         "Alex Lacamoire": "alex_lacamoire_1.png"}
PREFIXES = {"obama": "Barack Obama", "rgba_32bit": "Barack Obama", "biden": "Joe Biden",
            "guido_van_rossum": "Guido van Rossum", "steve_wozniak": "Steve Wozniak",
            "lin_manuel_miranda": "Lin-Manuel Miranda", "alex_lacamoire": "Alex Lacamoire"}
ONE_PHOTO = "obama_2.jpg"
MIRRORED = "mirrored_"
VENV = Path.home() / ".cache" / "mediaindex-bench" / "face_recognition-venv"
PEOPLE_ONLY, DEFAULT_FEATURES = "people", "labels,faces,people"


def truth(name: str) -> set[str]:
    name = name.removeprefix(MIRRORED)
    if name.startswith("two_people_obama_biden"):
        return {"Barack Obama", "Joe Biden"}
    return {person for prefix, person in PREFIXES.items() if name.startswith(prefix)}


def face_recognition_cli() -> Path:
    command = VENV / "bin" / "face_recognition"
    if not command.exists():
        venv.create(VENV, with_pip=True)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "dlib-bin", "setuptools<81", "click", "face_recognition_models", "numpy", "pillow"],
                       check=True)
        subprocess.run([*pip, "--no-deps", "face_recognition"], check=True)
    return command


def timed(command: list[str], **options: Any) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the command and its children, the finished process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, **options)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 1):  # 1: some file failed, which the score shows
        raise RuntimeError(f"{command[:4]} exited {done.returncode}: {done.stderr[-2000:]}")
    return wall, cpu, done


def run_face_recognition(known: Path, unknown: Path, cpus: int) -> dict[str, Any]:
    """Its wall time with `cpus` processes. Its CPU seconds are measured with --cpus 1 (cpu_of_face_recognition):
    with more, the pool's processes end without being waited for, so their CPU time is counted nowhere."""
    wall, cpu, run = timed([str(face_recognition_cli()), "--cpus", str(cpus), str(known), str(unknown)])
    found: dict[str, set[str]] = {p.name: set() for p in unknown.iterdir()}
    for line in run.stdout.splitlines():
        path, _, name = line.rpartition(",")
        if path and name not in ("unknown_person", "no_persons_found"):
            found.setdefault(Path(path).name, set()).add(name)
    return {"seconds": wall, "cpu_seconds": cpu if cpus == 1 else float("nan"), "found": found}


def cpu_of_face_recognition(known: Path, unknown: Path) -> float:
    """The CPU seconds of face_recognition's work, run in one process (--cpus 1), where all of it is counted."""
    return run_face_recognition(known, unknown, 1)["cpu_seconds"]


class Mediaindex:
    """The `mediaindex` command in fresh homes, with the given source tree (default: as installed) and a bytecode
    cache of its own."""

    def __init__(self, work: Path, functions: Path | None) -> None:
        self.work = work
        self.env = {k: v for k, v in os.environ.items() if k not in ("MEDIAINDEX_INDEX", "PYTHONDONTWRITEBYTECODE")}
        self.env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        if functions is not None:
            self.env["PYTHONPATH"] = str(functions)
        self.cli = [sys.executable, "-m", "mediaindex"]

    def home(self, features: str) -> dict[str, str]:
        home = Path(tempfile.mkdtemp(prefix="home-", dir=self.work))
        return {**self.env, "MEDIAINDEX_HOME": str(home), "MEDIAINDEX_FEATURES": features}

    def command(self, env: dict[str, str], *args: str) -> tuple[float, float, subprocess.CompletedProcess]:
        return timed([*self.cli, *args], env=env, cwd=ROOT)

    def task(self, known: Path, unknown: Path, workers: int, features: str) -> dict[str, Any]:
        env = self.home(features)
        try:
            steps = {}
            steps["people add"] = self.command(env, "people", "add", "--from", str(known), "--json")
            steps["index"] = self.command(env, "index", str(unknown), "--workers", str(workers), "--json",
                                          "--no-progress")
            steps["search"] = self.command(env, "search", "--limit", "1000", "--json")
        finally:
            shutil.rmtree(env["MEDIAINDEX_HOME"], ignore_errors=True)
        summary = json.loads(steps["index"][2].stdout)
        found = {Path(hit["key"]).name: set(hit.get("people") or []) for hit in json.loads(steps["search"][2].stdout)["hits"]}
        return {"seconds": sum(s[0] for s in steps.values()), "cpu_seconds": sum(s[1] for s in steps.values()),
                "commands": {name: {"seconds": s[0], "cpu_seconds": s[1]} for name, s in steps.items()},
                "index_workers": summary["workers"], "index_mode": summary["mode"], "found": found}

    def one_photo(self, known: Path, one: Path, features: str) -> dict[str, Any]:
        """`people add NAME PHOTO` into a fresh home; `index` of one photo where the six are enrolled."""
        env = self.home(features)
        try:
            add = self.command(env, "people", "add", "Barack Obama", str(known / "Barack Obama.jpg"), "--json")
        finally:
            shutil.rmtree(env["MEDIAINDEX_HOME"], ignore_errors=True)
        env = self.home(features)
        try:
            self.command(env, "people", "add", "--from", str(known), "--json")
            index = self.command(env, "index", str(one), "--json", "--no-progress")
            hits = json.loads(self.command(env, "search", "--json")[2].stdout)["hits"]
        finally:
            shutil.rmtree(env["MEDIAINDEX_HOME"], ignore_errors=True)
        summary = json.loads(index[2].stdout)
        return {"people add, one photo": {"seconds": add[0], "cpu_seconds": add[1]},
                "index, one photo": {"seconds": index[0], "cpu_seconds": index[1], "workers": summary["workers"],
                                     "mode": summary["mode"]},
                "named": sorted(p for h in hits for p in h.get("people") or [])}

    def breakdown(self) -> dict[str, Any]:
        """Import seconds of the CLI and each heavy package, each in a fresh process, and each model's load."""
        imports = {}
        for module in ("mediaindex.entrypoints.cli", "numpy", "PIL.Image", "cv2", "onnxruntime",
                       "ai_edge_litert.interpreter", "dlib", "mediaindex.adapters.index.sqlite"):
            code = (f"import time; t = time.perf_counter(); import {module}; "
                    "print(time.perf_counter() - t)")
            samples = [float(subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True,
                                            text=True, check=True).stdout) for _ in range(3)]
            imports[module] = statistics.median(samples)
        code = """
import json, time
from mediaindex.config import Settings
from mediaindex.adapters.analysis.local import LocalAnalyzer, models
models.set_threads(1)
out = {}
for features in (("people",), ("labels", "faces", "people")):
    models._loaded.clear(); models.load_seconds.clear()
    started = time.perf_counter()
    LocalAnalyzer(Settings(features=features)).load()
    out[",".join(features)] = {"total": time.perf_counter() - started, **models.load_seconds}
print(json.dumps(out))
"""
        loads = json.loads(subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True,
                                          check=True).stdout.strip().splitlines()[-1])
        return {"import_seconds": imports, "model_load_seconds": loads}


def score(found: dict[str, set[str]], unknown: Path) -> tuple[int, int, list[str]]:
    names = sorted(p.name for p in unknown.iterdir())
    wrong = [f"{n}: {sorted(found.get(n, set()))} (is {sorted(truth(n))})" for n in names if found.get(n, set()) != truth(n)]
    return len(names) - len(wrong), len(names), wrong


def mirrored(source: Path, target: Path) -> None:
    from PIL import Image, ImageOps

    with Image.open(source) as image:
        ImageOps.mirror(image).save(target, format=image.format)


def lay_out(work: Path, large: bool) -> dict[str, Path]:
    known, small, big, one = work / "known", work / "unknown-13", work / "unknown-106", work / "one"
    for folder in (known, small, big, one):
        folder.mkdir()
    for person, photo in KNOWN.items():
        shutil.copyfile(DATA / "faces" / photo, known / f"{person}{Path(photo).suffix}")
    for photo in (DATA / "faces").iterdir():
        shutil.copyfile(photo, small / photo.name)
    shutil.copyfile(DATA / "faces" / ONE_PHOTO, one / ONE_PHOTO)
    folders = {"known": known, "13 photos": small, "one": one}
    if large:
        for photo in [*(DATA / "faces").iterdir(), *(DATA / "images").iterdir()]:
            shutil.copyfile(photo, big / photo.name)
            mirrored(photo, big / f"{MIRRORED}{photo.name}")
        folders[f"{len(list(big.iterdir()))} photos"] = big
    return folders


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"seconds": statistics.median(r["seconds"] for r in runs),
                           "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
                           "runs_seconds": [round(r["seconds"], 2) for r in runs]}
    if not any(math.isnan(r["cpu_seconds"]) for r in runs):
        out["runs_cpu_seconds"] = [round(r["cpu_seconds"], 2) for r in runs]
    if "commands" in runs[0]:
        out["commands"] = {name: {key: statistics.median(r["commands"][name][key] for r in runs)
                                  for key in ("seconds", "cpu_seconds")} for name in runs[0]["commands"]}
        out["index_workers"], out["index_mode"] = runs[0]["index_workers"], runs[0]["index_mode"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=int, default=2, help="face_recognition --cpus and mediaindex --workers")
    parser.add_argument("--runs", type=int, default=2, help="runs of each task (the median is reported)")
    parser.add_argument("--functions", type=Path, help="run mediaindex from this source tree (PYTHONPATH), e.g. an "
                                                       "older commit's `functions` folder, to compare")
    parser.add_argument("--no-large", action="store_true", help="the 13-photo and one-photo tasks only")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mediaindex-vs-fr-"))
    try:
        folders = lay_out(work, large=not args.no_large)
        known = folders["known"]
        mediaindex = Mediaindex(work, args.functions)
        one_env = mediaindex.home(PEOPLE_ONLY)  # untimed: fills the bytecode cache
        mediaindex.command(one_env, "people", "add", "--from", str(known), "--json")
        mediaindex.command(one_env, "index", str(folders["one"]), "--json", "--no-progress")
        mediaindex.command(one_env, "search", "--json")
        face_recognition_cli()
        load = os.getloadavg()[0]
        print(f"{len(KNOWN)} known people (one photo each), {args.cpus} CPUs, {args.runs} runs each "
              f"(median), load average at start {load:.1f}")
        results: dict[str, Any] = {"cpus": args.cpus, "runs": args.runs, "load_average_at_start": load,
                                   "source": str(args.functions or "installed"), "tasks": {}}
        runs: dict[str, Callable[[Path], dict[str, Any]]] = {
            "face_recognition CLI": lambda unknown: run_face_recognition(known, unknown, args.cpus),
            "mediaindex, people only": lambda unknown: mediaindex.task(known, unknown, args.cpus, PEOPLE_ONLY),
            "mediaindex, default features": lambda unknown: mediaindex.task(known, unknown, args.cpus,
                                                                            DEFAULT_FEATURES),
        }
        for task, unknown in folders.items():
            if task in ("known", "one"):
                continue
            measured: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
            for _ in range(args.runs):
                for name, run in runs.items():
                    measured[name].append(run(unknown))
            out: dict[str, Any] = {}
            print(f"\n{task} to identify")
            for name, samples in measured.items():
                right, total, wrong = score(samples[-1]["found"], unknown)
                out[name] = {**median_of(samples), "right": right, "photos": total, "wrong": wrong}
                r = out[name]
                commands = "".join(f"; {c} {v['seconds']:.2f} s" for c, v in r.get("commands", {}).items())
                cpu = "" if math.isnan(r["cpu_seconds"]) else f"{r['cpu_seconds']:6.2f} s CPU"
                print(f"  {name:<30} {r['seconds']:6.2f} s wall {cpu:>12}   {right}/{total} "
                      f"right{commands}" + ("" if not wrong else "; wrong: " + "; ".join(wrong)))
            base = out["face_recognition CLI"]
            base["cpu_seconds"] = cpu_of_face_recognition(known, unknown)
            base["cpu_seconds_measured_with"] = "--cpus 1, once"
            print(f"  face_recognition CLI, --cpus 1: {base['cpu_seconds']:.2f} s CPU")
            for name in list(out)[1:]:
                out[name]["speedup"] = base["seconds"] / out[name]["seconds"]
                out[name]["cpu_ratio"] = base["cpu_seconds"] / out[name]["cpu_seconds"]
                print(f"  {name}: {out[name]['speedup']:.2f}x faster than the face_recognition CLI end to end "
                      f"({out[name]['cpu_ratio']:.2f}x less CPU)")
            results["tasks"][task] = out
        one: dict[str, Any] = {}
        for features in (PEOPLE_ONLY, DEFAULT_FEATURES):
            samples = [mediaindex.one_photo(known, folders["one"], features) for _ in range(args.runs)]
            one[features] = {key: {"seconds": statistics.median(s[key]["seconds"] for s in samples),
                                   "cpu_seconds": statistics.median(s[key]["cpu_seconds"] for s in samples)}
                             for key in ("people add, one photo", "index, one photo")}
            one[features]["index, one photo"]["mode"] = samples[0]["index, one photo"]["mode"]
            one[features]["named"] = samples[0]["named"]
        fr_one = [run_face_recognition(known, folders["one"], args.cpus) for _ in range(args.runs)]
        one["face_recognition CLI, one photo"] = {"seconds": statistics.median(r["seconds"] for r in fr_one),
                                                  "cpu_seconds": cpu_of_face_recognition(known, folders["one"])}
        results["one photo"] = one
        print("\none photo")
        for features in (PEOPLE_ONLY, DEFAULT_FEATURES):
            for key in ("people add, one photo", "index, one photo"):
                r = one[features][key]
                print(f"  mediaindex {key:<22} (features {features}) {r['seconds']:5.2f} s wall {r['cpu_seconds']:5.2f} s CPU"
                      + (f", {r['mode']}" if "mode" in r else ""))
        fr = one["face_recognition CLI, one photo"]
        print(f"  face_recognition CLI, one unknown photo (6 known)  {fr['seconds']:5.2f} s wall {fr['cpu_seconds']:5.2f} s CPU")
        results["breakdown"] = mediaindex.breakdown()
        print("\nwhere a process's seconds go (fresh processes, medians of 3)")
        for module, seconds in results["breakdown"]["import_seconds"].items():
            print(f"  import {module:<34} {seconds:.3f} s")
        for features, loads in results["breakdown"]["model_load_seconds"].items():
            print(f"  models for {features:<20} " + ", ".join(f"{k} {v:.3f} s" for k, v in loads.items()))
        if args.json:
            results = json.loads(json.dumps(results, default=sorted))  # the found sets are not kept
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
