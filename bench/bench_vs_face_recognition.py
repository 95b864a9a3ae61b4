"""Known and unknown faces, end to end: mediaindex against the face_recognition command line on the same task.

    python bench/bench_vs_face_recognition.py [--cpus 2] [--json FILE]

The task, as face_recognition's README sets it: a folder of known people, one photo each (named after the person),
and a folder of photos to identify. Here: the six people of ../shared/data/faces from one photo each, and all 13
photos of that folder to identify (the known photos among them, the other photos of the same people, a 32-bit
RGBA copy, a photo of two people).

- face_recognition 1.3.0 (dlib HOG, upsampled once, and dlib's ResNet; tolerance 0.6) runs in a throwaway virtual
  environment made on first use under ~/.cache/mediaindex-bench/ with `pip install dlib-bin "setuptools<81" click
  face_recognition_models numpy pillow` and `pip install --no-deps face_recognition`: `face_recognition --cpus N KNOWN UNKNOWN`.
- mediaindex, in a fresh MEDIAINDEX_HOME: `mediaindex people add --from KNOWN`, then `mediaindex index UNKNOWN
  --workers N`, then `mediaindex search --json` for the names it found; with MEDIAINDEX_FEATURES=people (faces
  and names only, the same work as face_recognition's), and again with the default features (labels too).

Each is timed from the first command's start to the last one's exit, models loading included. A photo counts as
right when the set of people named in it is exactly the set that is in it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data"))
KNOWN = {"Barack Obama": "obama_1.jpg", "Joe Biden": "biden_1.jpg", "Guido van Rossum": "guido_van_rossum_1.jpg",
         "Steve Wozniak": "steve_wozniak_1.jpg", "Lin-Manuel Miranda": "lin_manuel_miranda_1.png",
         "Alex Lacamoire": "alex_lacamoire_1.png"}
PREFIXES = {"obama": "Barack Obama", "rgba_32bit": "Barack Obama", "biden": "Joe Biden",
            "guido_van_rossum": "Guido van Rossum", "steve_wozniak": "Steve Wozniak",
            "lin_manuel_miranda": "Lin-Manuel Miranda", "alex_lacamoire": "Alex Lacamoire"}
VENV = Path.home() / ".cache" / "mediaindex-bench" / "face_recognition-venv"


def truth(name: str) -> set[str]:
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


def run_face_recognition(known: Path, unknown: Path, cpus: int) -> tuple[float, dict[str, set[str]]]:
    command = face_recognition_cli()
    started = time.perf_counter()
    run = subprocess.run([str(command), "--cpus", str(cpus), str(known), str(unknown)], capture_output=True,
                         text=True, check=True)
    wall = time.perf_counter() - started
    found: dict[str, set[str]] = {p.name: set() for p in unknown.iterdir()}
    for line in run.stdout.splitlines():
        path, _, name = line.rpartition(",")
        if path and name not in ("unknown_person", "no_persons_found"):
            found.setdefault(Path(path).name, set()).add(name)
    return wall, found


def run_mediaindex(known: Path, unknown: Path, workers: int, features: str) -> tuple[float, dict[str, set[str]]]:
    home = Path(tempfile.mkdtemp(prefix="mediaindex-vs-fr-"))
    env = {**os.environ, "MEDIAINDEX_HOME": str(home), "MEDIAINDEX_FEATURES": features}
    env.pop("MEDIAINDEX_INDEX", None)
    cli = [sys.executable, "-m", "mediaindex"]
    try:
        started = time.perf_counter()
        subprocess.run([*cli, "people", "add", "--from", str(known), "--json"], check=True, env=env, cwd=ROOT,
                       capture_output=True)
        subprocess.run([*cli, "index", str(unknown), "--workers", str(workers), "--json", "--no-progress"], env=env,
                       cwd=ROOT, capture_output=True, check=True)
        out = subprocess.run([*cli, "search", "--limit", "100", "--json"], env=env, cwd=ROOT, capture_output=True,
                             check=True, text=True).stdout
        wall = time.perf_counter() - started
    finally:
        shutil.rmtree(home, ignore_errors=True)
    found = {Path(hit["key"]).name: set(hit.get("people") or []) for hit in json.loads(out)["hits"]}
    return wall, found


def score(found: dict[str, set[str]], unknown: Path) -> tuple[int, int, list[str]]:
    names = sorted(p.name for p in unknown.iterdir())
    wrong = [f"{n}: {sorted(found.get(n, set()))} (is {sorted(truth(n))})" for n in names if found.get(n, set()) != truth(n)]
    return len(names) - len(wrong), len(names), wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=int, default=2, help="face_recognition --cpus and mediaindex --workers")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mediaindex-vs-fr-task-"))
    try:
        known, unknown = work / "known", work / "unknown"
        known.mkdir()
        unknown.mkdir()
        for person, photo in KNOWN.items():
            shutil.copyfile(DATA / "faces" / photo, known / f"{person}{Path(photo).suffix}")
        for photo in (DATA / "faces").iterdir():
            shutil.copyfile(photo, unknown / photo.name)
        results = {}
        runs = [("face_recognition CLI", lambda: run_face_recognition(known, unknown, args.cpus)),
                ("mediaindex, people only", lambda: run_mediaindex(known, unknown, args.cpus, "people")),
                ("mediaindex, default features", lambda: run_mediaindex(known, unknown, args.cpus, "labels,faces,people"))]
        print(f"{len(KNOWN)} known people (one photo each), {len(list(unknown.iterdir()))} photos to identify, "
              f"{args.cpus} CPUs")
        for name, run in runs:
            wall, found = run()
            right, total, wrong = score(found, unknown)
            results[name] = {"seconds": wall, "right": right, "photos": total, "wrong": wrong}
            print(f"{name:<30} {wall:6.1f} s   {right}/{total} photos right" + ("" if not wrong else "; " + "; ".join(wrong)))
        base = results["face_recognition CLI"]["seconds"]
        for name in list(results)[1:]:
            results[name]["speedup"] = base / results[name]["seconds"]
            print(f"{name}: {results[name]['speedup']:.2f}x faster than the face_recognition CLI")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
