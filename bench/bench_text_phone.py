"""What reading text by default costs a phone library end to end: `mediaindex index` of 12-megapixel camera photos
with a few screenshots and a photographed receipt, with text off (MEDIAINDEX_TEXT=never) and with the gate (auto).

    python bench/bench_text_phone.py [--workers 2] [--rounds 2] [--json FILE]

The library: the 40 labelled photos of ../shared/data/images upscaled to 4032 x 3024 (JPEG q90, a phone's EXIF
Make/Model), and bench/text_library.py's 3 phone screenshots and one photographed receipt: 44 files, 91 % camera
photos, 7 % screenshots, 2 % paper, about a phone camera roll's share (an assumption, as in bench_text_gate.py).
Each setting is run --rounds times, alternating, each in a new process and a fresh MEDIAINDEX_HOME, timed from
start to exit (model loading included, the same in both).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "functions")]

import text_library  # noqa: E402

IMAGES = ROOT.parent / "shared" / "data" / "images"


def build(folder: Path) -> dict[str, int]:
    counts = {"photo_12mp": 0, "screenshot": 0, "paper": 0}
    exif = text_library.camera_exif()
    for path in sorted(IMAGES.iterdir()):
        with Image.open(path) as im:
            im.convert("RGB").resize((4032, 3024), Image.BICUBIC).save(
                folder / f"IMG_{counts['photo_12mp']:04d}.jpg", quality=90, exif=exif)
        counts["photo_12mp"] += 1
    for item in text_library.make_library(Path(tempfile.mkdtemp())):
        if item.kind == "screenshot" or (item.kind == "receipt_photo" and not counts["paper"]):
            os.replace(item.path, folder / item.path.name)
            counts["paper" if item.kind == "receipt_photo" else "screenshot"] += 1
    return counts


def index(folder: Path, text: str, workers: int) -> float:
    home = tempfile.mkdtemp()
    env = {**os.environ, "MEDIAINDEX_HOME": home, "MEDIAINDEX_TEXT": text}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mediaindex", "index", str(folder), "--workers", str(workers), "--json"],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    found = subprocess.run([sys.executable, "-m", "mediaindex", "search", "receipt", "--json"], env=env, check=True,
                           capture_output=True, text=True).stdout
    print(f"  text={text}: {elapsed:.1f} s; search receipt: {len(json.loads(found)['hits'])} hit(s)", flush=True)
    return elapsed


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp())
    counts = build(folder)
    files = sum(counts.values())
    print(f"library: {counts} ({files} files)", flush=True)
    times: dict[str, list[float]] = {"never": [], "auto": []}
    for _ in range(args.rounds):
        for text in times:
            times[text].append(index(folder, text, args.workers))
    best = {text: min(values) for text, values in times.items()}
    rates = {text: files / seconds for text, seconds in best.items()}
    cost = 1 - rates["auto"] / rates["never"]
    figures = {"library": counts, "files": files, "workers": args.workers, "seconds": times,
               "images_per_s": rates, "auto_cost": cost, "load_average": os.getloadavg()[0],
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print(f"images/s (best of {args.rounds}): text off {rates['never']:.2f}, gate {rates['auto']:.2f}: "
          f"{cost:.1%} fewer", flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
