"""Look-alikes, measured: how well copies are told from other photos, what the feature costs, how fast and exact the
vector search is at scale.

    python bench/bench_duplicates.py                  # pairs + cost (~2 min)
    python bench/bench_duplicates.py --scale 1000000  # also the vector search at that many vectors

1. Pairs. Originals: the 40 photos of ../shared/data/images (the set the thresholds were chosen on, "tuning") and,
   apart, the 13 of ../shared/data/faces ("held out": never looked at while choosing). Each original gets edited
   copies: tuning with resize 50 %, JPEG q20, crop 80 %, mirror, rotate 8 degrees, greyscale, brighter, a caption
   bar; held out with other parameters (resize 33 %, JPEG q35, crop 70 % off-centre, rotate -5, contrast,
   a text overlay in the middle, a border, WebP). Negatives: every pair of different originals (with their copies),
   and bursts: frames of the test clip a third of a second apart, without capture times (the hardest case: the
   pixels alone decide). Every picture goes through the real analyzer (the look vector is read during the labels'
   run) and into a vectors file; pairs are proposed by the nearest-neighbour search and judged by
   services/look_alikes.py's rules, as `mediaindex duplicates` does. Printed: precision and recall of "copy" over
   all pairs, per edit; bursts judged copies.
2. Cost: the analyzer's time per picture with and without the look stage (its `look` timing).
3. Scale (--scale N): N synthetic vectors shaped like the feature (non-negative, clustered), the nearest 10 of 200
   queries from the store (projection + graph + exact rescoring) against exact search over all N: recall@10 and
   latency; build time and resident memory.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from PIL import Image, ImageDraw, ImageEnhance, ImageOps  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
# Test photos that are one shot already: faces/rgba_32bit.png is obama_2.jpg saved as an RGBA PNG (mean difference of
# 0.2 grey levels at 64x64), so their copies are copies of each other.
SAME_SHOT = {"rgba_32bit.png": "obama_2.jpg"}


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _caption(image: Image.Image, top: float, height: float, text: str) -> Image.Image:
    out = image.copy()
    w, h = out.size
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, int(h * top), w, int(h * (top + height))), fill=(0, 0, 0))
    draw.text((10, int(h * (top + height / 4))), text, fill=(255, 255, 255))
    return out


def tuning_edits(im: Image.Image) -> dict[str, Image.Image]:
    w, h = im.size
    return {
        "resize 50%": im.resize((w // 2, h // 2)),
        "jpeg q20": _jpeg(im, 20),
        "crop 80%": im.crop((int(w * .1), int(h * .1), int(w * .9), int(h * .9))),
        "mirror": ImageOps.mirror(im),
        "rotate 8": im.rotate(8, resample=Image.Resampling.BILINEAR),
        "greyscale": ImageOps.grayscale(im).convert("RGB"),
        "brighter": ImageEnhance.Brightness(im).enhance(1.4),
        "caption bar": _caption(im, 0.85, 0.15, "Holiday 2024"),
    }


def held_out_edits(im: Image.Image) -> dict[str, Image.Image]:
    w, h = im.size
    webp = io.BytesIO()
    im.save(webp, "WEBP", quality=50)
    return {
        "resize 33%": im.resize((max(1, w // 3), max(1, h // 3))),
        "jpeg q35": _jpeg(im, 35),
        "crop 70% off-centre": im.crop((0, int(h * .2), int(w * .7), int(h * .9))),
        "rotate -5": im.rotate(-5, resample=Image.Resampling.BICUBIC),
        "contrast": ImageEnhance.Contrast(im).enhance(1.5),
        "text overlay": _caption(im, 0.45, 0.1, "COPYRIGHT"),
        "border": ImageOps.expand(im.resize((int(w * .9), int(h * .9))), border=(w // 20), fill=(255, 255, 255)),
        "webp q50": Image.open(io.BytesIO(webp.getvalue())).convert("RGB"),
    }


def burst_frames(step: int = 10) -> list[Image.Image]:
    import av

    with av.open(str(DATA / "video" / "short_hamilton_clip.mp4")) as container:
        return [f.to_image() for i, f in enumerate(container.decode(video=0)) if i % step == 0]


def measure_pairs(analyzer, name: str, originals: list[Path], edits) -> dict:
    from mediaindex.adapters.vectors.local import LocalPictureVectors
    from mediaindex.domain import look_alikes as rules
    from mediaindex.domain.look_alikes import LOOK, Member
    from mediaindex.media.picture import Picture
    from mediaindex.ports import PictureVector
    from mediaindex.services.look_alikes import NEIGHBOURS, _judge

    pictures: list[tuple[str, str, Image.Image]] = []  # (group, edit, image)
    for path in originals:
        im = Image.open(path).convert("RGB")
        group = SAME_SHOT.get(path.name, path.name)
        pictures.append((group, "original" if group == path.name else "same shot", im))
        pictures += [(group, edit, e) for edit, e in edits(im).items()]
    bursts = burst_frames()
    pictures += [(f"burst{i}", "frame", im) for i, im in enumerate(bursts)]
    looks_ms, totals_ms, remember_ms = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalPictureVectors(Path(tmp) / "vectors.db")
        ids: dict[str, tuple[str, str]] = {}
        vectors: dict[str, list[PictureVector]] = {}
        for i, (group, edit, im) in enumerate(pictures):
            buffer = io.BytesIO()
            im.save(buffer, "PNG")
            picture = Picture.from_bytes(buffer.getvalue())
            analysis = analyzer.analyze(picture)
            looks_ms.append(analyzer.last_timings.get("look", 0.0) * 1000)
            totals_ms.append(sum(analyzer.last_timings.values()) * 1000)
            sha = f"{i:064x}"
            ids[sha] = (group, edit)
            if analysis.look:
                vectors[sha] = [PictureVector(sha, analysis.look_model, analysis.look, 0, analysis.layout)]
                t = time.perf_counter()
                store.remember(LOOK, vectors[sha])
                remember_ms.append((time.perf_counter() - t) * 1000)
        judged: dict[tuple[str, str], str | None] = {}
        started = time.perf_counter()
        for sha, own in vectors.items():
            for other, cosine in store.nearest(LOOK, own[0].model, own[0].values, NEIGHBOURS,
                                               min_cosine=rules.CANDIDATE_COSINE):
                pair = (min(sha, other), max(sha, other))
                if other == sha or pair in judged:
                    continue
                member = Member(sha, sha, sha)
                judged[pair] = _judge(own, vectors[other], cosine, member, Member(other, other, other), "image")
        judge_seconds = time.perf_counter() - started
    copies = rules.COPY_REASONS
    true_pairs = {(a, b) for a, b in combinations(sorted(vectors), 2)
                  if ids[a][0] == ids[b][0] and not ids[a][0].startswith("burst")}
    found = {pair for pair, reason in judged.items() if reason in copies}
    tp = len(found & true_pairs)
    # recall per edit: is the edited copy grouped with its original?
    per_edit: dict[str, list[int]] = {}
    by_group = {}
    for sha, (group, edit) in ids.items():
        if edit == "original":
            by_group[group] = sha
    for sha, (group, edit) in ids.items():
        if edit in ("original", "frame", "same shot"):
            continue
        original = by_group[group]
        pair = (min(sha, original), max(sha, original))
        per_edit.setdefault(edit, []).append(int(pair in found))
    burst_pairs = {(a, b) for a, b in combinations(sorted(vectors), 2)
                   if ids[a][0].startswith("burst") and ids[b][0].startswith("burst")
                   and abs(int(ids[a][0][5:]) - int(ids[b][0][5:])) == 1}
    strangers_as_copies = len(found - true_pairs - burst_pairs)
    # what a user sees: the groups (connected copies), each edited copy in its original's group or not
    members = {sha: Member(sha, sha, sha) for sha in vectors}
    groups = rules.group_pairs(members, [(a, b, judged[(a, b)] or "", 1.0) for a, b in found])
    group_of = {m.id: n for n, g in enumerate(groups) for m in g.members}
    grouped: dict[str, list[int]] = {}
    for sha, (group, edit) in ids.items():
        if edit not in ("original", "frame", "same shot"):
            together = sha in group_of and group_of.get(by_group[group]) == group_of[sha]
            grouped.setdefault(edit, []).append(int(together))
    mixed = sum(1 for g in groups if len({ids[m.id][0] for m in g.members}) > 1)
    return {
        "set": name, "pictures": len(pictures), "with_vector": len(vectors),
        "copy_pairs": len(true_pairs), "found": len(found), "true_positives": tp,
        "precision": round(tp / len(found), 4) if found else None,
        "recall": round(tp / len(true_pairs), 4) if true_pairs else None,
        "recall_per_edit": {k: f"{sum(v)}/{len(v)}" for k, v in per_edit.items()},
        "groups": len(groups), "groups_mixing_different_photos": mixed,
        "grouped_with_original": f"{sum(map(sum, grouped.values()))}/{sum(map(len, grouped.values()))}",
        "unrelated_pairs_judged_copies": strangers_as_copies,
        "consecutive_bursts": len(burst_pairs),
        "bursts_judged_copies": len(found & burst_pairs),
        "bursts_judged_similar": sum(1 for p in burst_pairs if judged.get(p) == rules.SIMILAR),
        "look_ms_median": round(statistics.median(looks_ms), 2),
        "analysis_ms_median": round(statistics.median(totals_ms), 1),
        "remember_ms_median": round(statistics.median(remember_ms), 2),
        "feature_share_of_analysis": round((statistics.median(looks_ms) + statistics.median(remember_ms))
                                           / statistics.median(totals_ms), 4),
        "judging_seconds": round(judge_seconds, 2),
    }


def measure_scale(n: int, queries: int = 200) -> dict:
    import numpy as np

    from mediaindex.adapters.vectors import local
    from mediaindex.domain.look_alikes import LOOK

    rng = np.random.default_rng(11)
    centres = np.abs(rng.standard_normal((max(10, n // 200), 1280))).astype(np.float32) ** 2

    def batch(size: int) -> np.ndarray:
        picks = centres[rng.integers(0, len(centres), size)]
        out = np.maximum(picks + rng.standard_normal((size, 1280)).astype(np.float32) * 0.8, 0)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vectors.db"
        store = local.LocalPictureVectors(path)
        started = time.perf_counter()
        conn = store._connect()
        written = 0
        sample = []
        while written < n:
            vectors = batch(min(20_000, n - written))
            rows = []
            for i, v in enumerate(vectors):
                scale, data = local.quantize(v)
                rows.append((LOOK, f"{written + i:064x}", 0, "m", scale, data, None))
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO vectors (kind, content_sha256, part, model, scale, data, layout) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
            if len(sample) < queries:
                sample += [v for v in vectors[: queries - len(sample)]]
            written += len(vectors)
        load_seconds = time.perf_counter() - started
        started = time.perf_counter()
        store.nearest(LOOK, "m", sample[0].tolist(), 10)  # loads the vectors and builds (or reads) the graph
        build_seconds = time.perf_counter() - started
        exact = np.concatenate([np.stack([local.unquantize(d) for (d,) in conn.execute(
            "SELECT data FROM vectors WHERE kind = ? AND id > ? AND id <= ? ORDER BY id", (LOOK, lo, lo + 50_000))])
            for lo in range(0, n, 50_000)]).astype(np.float16)  # the exact answer, at half the memory
        queries_noisy = np.stack([q + rng.standard_normal(1280).astype(np.float32) * 0.02 for q in sample])
        queries_noisy /= np.linalg.norm(queries_noisy, axis=1, keepdims=True)
        best = np.full((len(sample), 10), -2.0, dtype=np.float32)
        best_ids = np.zeros((len(sample), 10), dtype=np.int64)
        for lo in range(0, len(exact), 50_000):  # the exact answer, a chunk at a time in float32
            scores = exact[lo:lo + 50_000].astype(np.float32) @ queries_noisy.T  # (chunk, queries)
            joined = np.concatenate([best, scores.T], axis=1)
            ids = np.concatenate([best_ids, np.broadcast_to(np.arange(lo, lo + scores.shape[0]), scores.T.shape)], axis=1)
            top = np.argsort(-joined, axis=1)[:, :10]
            best, best_ids = np.take_along_axis(joined, top, 1), np.take_along_axis(ids, top, 1)
        recalls, firsts, latencies = [], [], []
        for noisy, truth in zip(queries_noisy, best_ids):
            t = time.perf_counter()
            found = store.nearest(LOOK, "m", noisy.tolist(), 10)
            latencies.append((time.perf_counter() - t) * 1000)
            recalls.append(len({int(s, 16) for s, _ in found} & set(truth.tolist())) / 10)
            firsts.append(int(bool(found) and int(found[0][0], 16) == int(truth[0])))
        graph = bool(store._spaces[(LOOK, "m")].graph)
    return {
        "vectors": n, "graph": graph, "write_seconds": round(load_seconds, 1), "load_and_build_seconds":
        round(build_seconds, 1), "recall_at_10": round(statistics.mean(recalls), 4),
        "recall_at_1": round(statistics.mean(firsts), 4),
        "latency_ms_p50": round(statistics.median(latencies), 2),
        "latency_ms_p95": round(sorted(latencies)[int(len(latencies) * 0.95)], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, nargs="*", default=[], help="vector counts for the scale part")
    parser.add_argument("--skip-pairs", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results-duplicates.json"))
    args = parser.parse_args()
    from mediaindex.adapters.analysis.local import models
    from mediaindex.adapters.analysis.local.analyzer import LocalAnalyzer
    from mediaindex.config import Settings

    models.set_threads(1)
    results: dict = {"command": "python bench/bench_duplicates.py " + " ".join(sys.argv[1:])}
    if not args.skip_pairs:
        analyzer = LocalAnalyzer(Settings())
        analyzer.load()
        results["tuning"] = measure_pairs(analyzer, "tuning: images/ x 8 edits", sorted((DATA / "images").iterdir()),
                                          tuning_edits)
        print(json.dumps(results["tuning"], indent=1))
        results["held_out"] = measure_pairs(analyzer, "held out: faces/ x 8 other edits",
                                            sorted((DATA / "faces").iterdir()), held_out_edits)
        print(json.dumps(results["held_out"], indent=1))
    results["scale"] = []
    for n in args.scale:
        results["scale"].append(measure_scale(n))
        print(json.dumps(results["scale"][-1], indent=1))
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
