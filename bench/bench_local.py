"""Benchmark the local analyzer over a folder of pictures: time per stage, throughput, model load time, memory.

    python bench/bench_local.py [FOLDER] [--features labels,faces,people] [--repeat 1] [--threads 1] [--models-dir DIR]

Prints, for each stage (decode, each model), the mean and median milliseconds per picture; pictures per second;
the time to load the models; peak resident memory (getrusage); the share of the analysis time spent outside
the models (decoding, conversions, result building); and the model-bound limit of `mediaindex index`: the machine's
cores divided by the summed model time per picture. Models run with --threads threads each (1, as in the worker
processes of `mediaindex index`, one per core).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from mediaindex.adapters.analysis.local import LocalAnalyzer, models  # noqa: E402
from mediaindex.config import Settings  # noqa: E402
from mediaindex.domain.errors import BadMedia  # noqa: E402
from mediaindex.media.picture import Picture  # noqa: E402

MODEL_STAGES = ("classifier", "objects", "objects_checked", "face_detect", "face_landmarks", "face_embedding", "face_age_gender",
                "face_emotion", "moderation", "text")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT.parent / "shared" / "data" / "images")
    parser.add_argument("--features", default="labels,faces,people")
    parser.add_argument("--threads", type=int, default=1, help="threads each model may use (default 1)")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the folder (the first includes warm-up)")
    parser.add_argument("--models-dir", type=Path)
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    args = parser.parse_args()

    files = sorted(p for p in args.folder.iterdir() if p.is_file())
    models.set_threads(args.threads)
    settings = Settings(features=tuple(args.features.split(",")), models_dir=args.models_dir)
    analyzer = LocalAnalyzer(settings)
    memory_before = peak_mb()
    started = time.perf_counter()
    analyzer.load()
    load_s = time.perf_counter() - started
    memory_loaded = peak_mb()

    stages: dict[str, list[float]] = defaultdict(list)
    totals: list[float] = []
    faces = labels = skipped = 0
    wall = time.perf_counter()
    for _ in range(args.repeat):
        for path in files:
            data = path.read_bytes()
            t0 = time.perf_counter()
            try:
                picture = Picture.from_bytes(data)
                analysis = analyzer.analyze(picture)
            except BadMedia:
                skipped += 1
                continue
            totals.append(time.perf_counter() - t0)
            for stage, seconds in analyzer.last_timings.items():
                stages[stage].append(seconds)
            faces += len(analysis.faces)
            labels += len(analysis.labels)
    wall = time.perf_counter() - wall
    n = len(totals)
    if not n:
        print("no picture could be analysed", file=sys.stderr)
        return 1

    print(f"folder: {args.folder}  pictures: {len(files)} x {args.repeat} pass(es), {skipped} skipped")
    print(f"features: {','.join(settings.features)}  faces found: {faces}  labels: {labels}")
    print(f"model load: {load_s * 1000:.0f} ms  " + ", ".join(
        f"{name} {s * 1000:.0f}" for name, s in sorted(models.load_seconds.items(), key=lambda kv: -kv[1])))
    print(f"{'stage':<18}{'mean ms':>9}{'median ms':>11}{'runs':>6}   (per picture; face stages summed over faces)")
    for stage in ("decode", *MODEL_STAGES):
        if stage in stages:
            values = stages[stage]
            # stages that did not run for a picture (no face found) count as 0 in the mean per picture
            print(f"{stage:<18}{sum(values) / n * 1000:>9.1f}{statistics.median(values) * 1000:>11.1f}{len(values):>6}")
    total = sum(totals)
    in_models = sum(sum(stages[s]) for s in MODEL_STAGES if s in stages)
    print(f"{'total analyze':<18}{total / n * 1000:>9.1f}{statistics.median(totals) * 1000:>11.1f}{n:>6}")
    print(f"pictures per second: {n / wall:.2f} (wall, reading files included)")
    model_ms = in_models / n * 1000
    cores = os.cpu_count() or 1
    print(f"model time per picture: {model_ms:.1f} ms; model-bound limit on {cores} cores: "
          f"{cores * 1000 / model_ms:.1f} images/s")
    print(f"outside the models: {(total - in_models) / total * 100:.1f}% of analysis time "
          f"(decode {sum(stages['decode']) / total * 100:.1f}%)")
    print(f"peak memory: {peak_mb():.0f} MB (before loading {memory_before:.0f} MB, after loading {memory_loaded:.0f} MB)")
    if args.json:
        args.json.write_text(json.dumps({
            "pictures": n, "passes": args.repeat, "skipped": skipped, "features": list(settings.features),
            "faces": faces, "labels": labels, "model_load_ms": load_s * 1000,
            "stages_ms": {s: {"mean": sum(v) / n * 1000, "median": statistics.median(v) * 1000, "runs": len(v)}
                          for s, v in stages.items()},
            "analyze_ms": {"mean": total / n * 1000, "median": statistics.median(totals) * 1000},
            "pictures_per_s": n / wall, "threads": args.threads, "model_ms_per_picture": model_ms,
            "model_bound_images_per_s": cores * 1000 / model_ms, "cores": cores, "outside_models_share": (total - in_models) / total,
            "decode_share": sum(stages["decode"]) / total, "peak_memory_mb": peak_mb(),
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
