"""What the face detector's working size buys on a 12 MP photo: faces found and milliseconds, at 1,280 px (the
default) and smaller.

    python bench/face_detection_size.py [--sides 1280,1120,960,800,640] [--json FILE]

The photos of ../shared/data/faces, each scaled to fit a tile, laid out as collages the size of a 12 MP photo's
working copy (2016x1512: the JPEG decoded at half size, as the analyzer does): 2x2 up to 10x10 tiles, so the same
faces get smaller at each step (a group photo, a crowd); their widths are given as they would be in the 4032 px
photo. The faces to find are those YuNet finds in each photo at its own size (score 0.83), placed where the tile
put them. A face counts as found when a detection overlaps it by IoU 0.3 or more. Each collage is run through
YuNetFaceDetector with `longest` set to each side (the detector scales the picture down to it by area averaging;
the analyzer gives it a 12 MP photo's working copy already scaled to 1,280 px, bilinearly, which finds the same faces
here). Time is one detection, scaling included, on one thread, median of 3.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from mediaindex.domain.model import Box  # noqa: E402 - after the path above

DATA = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data"))
SIDE_W, SIDE_H = 2016, 1512
GRIDS = (2, 4, 6, 8, 10)


def collage(photos, grid, detector):
    """The collage (RGB array) and the boxes of the faces in it."""
    canvas = Image.new("RGB", (SIDE_W, SIDE_H), (128, 128, 128))
    tile_w, tile_h = SIDE_W // grid, SIDE_H // grid
    truth = []
    for n in range(grid * grid):
        photo = photos[n % len(photos)]
        scale = min(tile_w / photo.width, tile_h / photo.height)
        size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
        placed = photo.resize(size, Image.Resampling.LANCZOS)
        x0, y0 = (n % grid) * tile_w, (n // grid) * tile_h
        canvas.paste(placed, (x0, y0))
        for face in detector.detect(np.asarray(photo)):
            truth.append(Box(x0 + face.left * scale, y0 + face.top * scale, (face.right - face.left) * scale,
                             (face.bottom - face.top) * scale))
    return np.asarray(canvas), truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="1280,1120,960,800,640")
    parser.add_argument("--json")
    args = parser.parse_args()
    sides = [int(s) for s in args.sides.split(",")]

    from mediaindex.adapters.analysis.local import models
    from mediaindex.adapters.analysis.local.faces import YuNetFaceDetector

    models.set_threads(1)
    detector = YuNetFaceDetector(models.locate(models.FACE_DETECTOR, None))
    photos = [Image.open(p).convert("RGB") for p in sorted((DATA / "faces").iterdir())
              if p.suffix.lower() in {".jpg", ".jpeg", ".png"}]
    results = []
    for grid in GRIDS:
        detector.longest = 100_000  # the faces of each photo at its own size
        pixels, truth = collage(photos, grid, detector)
        widths = [2 * b.width for b in truth]  # in the 4032 px photo
        row = {"grid": f"{grid}x{grid}", "faces": len(truth),
               "face_width_px_at_4032": [round(min(widths)), round(statistics.median(widths)), round(max(widths))],
               "sides": {}}
        for side in sides:
            detector.longest = side
            times, found = [], []
            for _ in range(3):
                started = time.perf_counter()
                found = detector.detect(pixels)
                times.append(time.perf_counter() - started)
            boxes = [Box(f.left, f.top, f.right - f.left, f.bottom - f.top) for f in found]
            hit = sum(1 for t in truth if any(t.overlap(b) >= 0.3 for b in boxes))
            row["sides"][side] = {"found": hit, "recall": round(hit / len(truth), 3) if truth else None,
                                  "extra": max(0, len(boxes) - hit), "ms": round(statistics.median(times) * 1000, 1)}
        results.append(row)
        parts = ", ".join(f"{s} px {v['found']}/{row['faces']} in {v['ms']:.0f} ms" for s, v in row["sides"].items())
        print(f"{row['grid']:>4} collage, faces {row['face_width_px_at_4032'][0]}-{row['face_width_px_at_4032'][2]} px "
              f"wide at 4032 (median {row['face_width_px_at_4032'][1]}): {parts}")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": "python bench/face_detection_size.py", "cpus": os.cpu_count(),
                                               "date": time.strftime("%Y-%m-%d"), "collages": results}, indent=2))


if __name__ == "__main__":
    main()
