"""`mediaindex index` end to end on a few hundred distinct photos, against the model-bound limit: as they are and as
12 MP phone photos, side by side in one run.

    python bench/bench_throughput.py [--qualities 95,90,85,80,75,70,65,60] [--sets small,12mp[,heic]] [--workers 2]
                                     [--heic-qualities 90,80] [--features ...] [--json FILE]

The 40 labelled photos (../shared/data/images, about 500x375) are re-encoded at each JPEG quality, so every file is
distinct (identical bytes would be reused, not analysed): 320 photos by default. The `12mp` set is the same photos
scaled up to 4032 px on the long side (an iPhone's 4032x3024) before encoding. The `heic` set (not run by default:
encoding takes minutes) is those 12 MP photos saved as HEIC by pillow-heif at each of --heic-qualities (80 photos by
default; x265's ultrafast preset; each a grid of 512 px tiles, as an iPhone writes a photo). Then, for each
set, in a fresh MEDIAINDEX_HOME:

- the model-bound limit: the summed model time per picture, each model on one thread as in the workers (measured
  here the way bench/bench_local.py measures it, on the same files), and cores / that time;
- `mediaindex index FOLDER --workers N` in a new process, timed from start to exit (start-up and model loading
  included): images per second, and its share of the limit;
- with both sets: the 12 MP rate as a share of the small photos' rate (the target is at least 0.8), and the HEIC
  rate's too.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
DATA = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data"))
MODEL_STAGES = ("classifier", "objects", "objects_checked", "face_detect", "face_landmarks", "face_embedding",
                "face_age_gender", "face_emotion", "moderation", "text")


PHONE_SIDE = 4032  # a 12 MP phone photo's long side


def make_photos(folder: Path, qualities: list[int], phone: bool = False, heic: bool = False,
                count: int | None = None) -> list[Path]:
    """Each of the first `count` (default: every) labelled photos at each quality; `phone`: scaled to 4032 px;
    `heic`: scaled and saved as HEIC."""
    from PIL import Image

    if heic:
        import pillow_heif

        pillow_heif.register_heif_opener()
        pillow_heif.options.GRID_TILE_SIZE = 512  # a grid of 512 px tiles, as an iPhone writes a photo
        phone = True
    made = []
    for source in sorted((DATA / "images").iterdir())[:count]:
        image = Image.open(source).convert("RGB")
        if phone:
            scale = PHONE_SIDE / max(image.size)
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        for quality in qualities:
            path = folder / f"{source.stem}_q{quality}.{'heic' if heic else 'jpg'}"
            buf = io.BytesIO()
            if heic:  # x265's fastest preset: 1.8 s a photo to make instead of 10.5 (decoding costs alike)
                image.save(buf, "HEIF", quality=quality, enc_params={"preset": "ultrafast"})
            else:
                image.save(buf, "JPEG", quality=quality)
            path.write_bytes(buf.getvalue())
            made.append(path)
    return made


def model_time(files: list[Path], features: tuple[str, ...]) -> dict[str, float]:
    """Mean milliseconds per picture in each model stage, one thread per model (after one warm-up picture)."""
    from mediaindex.adapters.analysis.local import LocalAnalyzer, models
    from mediaindex.config import Settings
    from mediaindex.media.picture import Picture

    models.set_threads(1)
    analyzer = LocalAnalyzer(Settings(features=features))
    analyzer.load()
    analyzer.analyze(Picture.from_bytes(files[0].read_bytes()))
    stages: dict[str, float] = defaultdict(float)
    for path in files:
        analyzer.analyze(Picture.from_bytes(path.read_bytes()))
        for stage, seconds in analyzer.last_timings.items():
            stages[stage] += seconds
    return {stage: seconds / len(files) * 1000 for stage, seconds in stages.items()}


def measure(folder: Path, work: Path, args: argparse.Namespace) -> dict[str, object]:
    """The model-bound limit and `mediaindex index` on one folder of photos."""
    # a subprocess, so that this process's models do not share the cores with the timed run
    probe = subprocess.run([sys.executable, __file__, "--stage-times", str(folder), args.features],
                           capture_output=True, text=True, check=True)
    stages = json.loads(probe.stdout)
    model_ms = sum(v for k, v in stages.items() if k in MODEL_STAGES)
    cores = os.cpu_count() or 1
    limit = min(cores, args.workers) * 1000 / model_ms
    env = {**os.environ, "MEDIAINDEX_HOME": str(work / f"home-{folder.name}"), "MEDIAINDEX_FEATURES": args.features}
    env.pop("MEDIAINDEX_INDEX", None)
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "mediaindex", "index", str(folder), "--workers", str(args.workers),
                          "--json", "--no-progress"], capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    if run.returncode not in (0, 1):
        raise RuntimeError(run.stderr[-3000:])
    summary = json.loads(run.stdout)
    rate = summary["indexed"] / wall
    files = sorted(folder.iterdir())
    return {
        "photos": len(files), "indexed": summary["indexed"], "failed": summary["failed"],
        "mean_file_bytes": round(sum(p.stat().st_size for p in files) / len(files)), "workers": args.workers,
        "cores": cores, "stage_ms": stages, "model_ms_per_picture": model_ms, "model_bound_images_per_s": limit,
        "wall_s": wall, "images_per_s": rate, "share_of_limit": rate / limit,
        "summary_files_per_s": summary["files_per_s"]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qualities", default="95,90,85,80,75,70,65,60")
    parser.add_argument("--sets", default="small,12mp",
                        help="small (as they are), 12mp (4032 px JPEG), heic (4032 px HEIC), comma-separated")
    parser.add_argument("--heic-qualities", default="90,80", help="the heic set's qualities (40 photos each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--features", default="labels,faces,people")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mediaindex-throughput-"))
    qualities = [int(q) for q in args.qualities.split(",")]
    results: dict[str, object] = {"features": args.features.split(","), "qualities": qualities}
    try:
        for name in args.sets.split(","):
            folder = work / name
            folder.mkdir()
            if name == "heic":
                make_photos(folder, [int(q) for q in args.heic_qualities.split(",")], heic=True)
            else:
                make_photos(folder, qualities, phone=name == "12mp")
            result = measure(folder, work, args)
            results[name] = result
            stages = result["stage_ms"]
            print(f"{name}: {result['photos']} distinct photos ({result['mean_file_bytes'] // 1024} KB each), features "
                  f"{args.features}, {args.workers} workers, {result['cores']} cores")
            print("  time per picture (one thread): " + ", ".join(
                f"{k} {v:.1f}" for k, v in stages.items() if (k in MODEL_STAGES or k == "decode") and v >= 0.05)
                  + f"; models {result['model_ms_per_picture']:.1f} ms")
            print(f"  model-bound limit: {result['model_bound_images_per_s']:.1f} images/s")
            print(f"  mediaindex index: {result['indexed']} indexed in {result['wall_s']:.1f} s from start to exit = "
                  f"{result['images_per_s']:.1f} images/s ({result['share_of_limit']:.2f} of the limit)")
        if "small" in results and "12mp" in results:
            ratio = results["12mp"]["images_per_s"] / results["small"]["images_per_s"]  # type: ignore[index]
            results["ratio_12mp_to_small"] = ratio
            print(f"12 MP photos index at {ratio:.2f} of the small photos' rate")
        if "small" in results and "heic" in results:
            ratio = results["heic"]["images_per_s"] / results["small"]["images_per_s"]  # type: ignore[index]
            results["ratio_heic_to_small"] = ratio
            print(f"12 MP HEIC photos index at {ratio:.2f} of the small photos' rate")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--stage-times":
        folder = Path(sys.argv[2])
        print(json.dumps(model_time(sorted(folder.iterdir()), tuple(sys.argv[3].split(",")))))
        sys.exit(0)
    sys.exit(main())
