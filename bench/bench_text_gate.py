"""The text gate (MEDIAINDEX_TEXT=auto) against reading no text and reading every picture, on a phone-like library.

    python bench/bench_text_gate.py [--workers 2] [--no-index] [--json FILE]

The library is bench/text_library.py's: the 40 labelled photos, 10 of them at 12 megapixels, 3 screenshots, a
receipt screenshot, 2 photographed receipts, a photographed letter and 3 signs in photos (60 pictures). Printed:

- per picture, in one process, each model on one thread: the model time with text off (labels,faces,people), with
  the gate (auto) and with OCR on everything (always); whether the gate read it and why; what was read;
- recall: of the pictures that hold text, how many got it with the gate. A generated picture holds its own words
  (recall counts it when every one of them was read); a real photo holds text when reading everything finds a word
  of three letters or more on it (then the gate must read it too);
- the false gate rate: of the pictures without text, how many paid for OCR;
- the cost of the gate against text off, on this library and on a phone-like mix (PHONE_MIX: camera photos,
  screenshots, photos of paper, weighted from this library's pictures of each kind), and on the same mix with the
  camera photos at a phone's size (the 12-megapixel ones only);
- unless --no-index: `mediaindex index FOLDER --workers N` in a new process and a fresh MEDIAINDEX_HOME for each
  setting, timed from start to exit (start-up and model loading included): images per second.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT / "bench"))

OFF = "labels,faces,people"
ON = "labels,faces,people,text"
TEXT_STAGES = ("text_gate", "text")
# A phone's camera roll, by share of pictures: mostly camera photos (some with a sign or a label in them), a
# screenshot in sixteen, a photo of a paper (receipt, letter, ticket) in fifty. Each share is the mean cost of this
# library's pictures of that kind.
PHONE_MIX = {"camera photo": 0.92, "screenshot": 0.06, "photo of paper": 0.02}
MIX_KINDS = {"camera photo": ("photo", "photo_12mp", "sign_photo"), "screenshot": ("screenshot", "receipt_screenshot"),
             "photo of paper": ("receipt_photo", "document_photo")}
# the same mix with the camera photos at a phone's size: the 12-megapixel ones (the sign photos included)
MIX_KINDS_12MP = {**MIX_KINDS, "camera photo": ("photo_12mp", "sign_photo")}


def words_of(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower())}


def probe(folder: Path) -> list[dict]:
    """Each picture analysed with the gate and with OCR on everything, each model on one thread."""
    from text_library import make_library

    from mediaindex.adapters.analysis.local import LocalAnalyzer, models
    from mediaindex.config import Settings
    from mediaindex.media.picture import Picture

    models.set_threads(1)
    items = make_library(folder)
    auto = LocalAnalyzer(Settings(features=tuple(ON.split(",")), text="auto"))
    always = LocalAnalyzer(Settings(features=tuple(ON.split(",")), text="always"))
    auto.load()
    always.load()
    warm = Picture.from_bytes(items[-1].path.read_bytes())
    auto.analyze(warm)
    always.analyze(warm)
    rows = []
    for item in items:
        data = item.path.read_bytes()
        gated = auto.analyze(Picture.from_bytes(data))
        auto_stages, reason = dict(auto.last_timings), auto.last_text_reason
        everything = always.analyze(Picture.from_bytes(data))
        always_stages = dict(always.last_timings)
        base_ms = sum(v for k, v in auto_stages.items() if k not in TEXT_STAGES and k != "decode") * 1000
        rows.append({
            "file": item.path.name, "kind": item.kind, "expected_words": list(item.words),
            "reason": reason, "base_ms": base_ms,
            "gate_ms": auto_stages.get("text_gate", 0.0) * 1000, "auto_text_ms": auto_stages.get("text", 0.0) * 1000,
            "always_text_ms": always_stages.get("text", 0.0) * 1000,
            "auto_text": " | ".join(line.text for line in gated.text),
            "always_text": " | ".join(line.text for line in everything.text),
        })
    return rows


def judge(rows: list[dict]) -> None:
    for row in rows:
        if row["expected_words"]:
            row["holds_text"] = True
            row["got_text"] = set(row["expected_words"]) <= words_of(row["auto_text"])
        else:
            row["holds_text"] = any(len(w) >= 3 for w in words_of(row["always_text"]))
            row["got_text"] = row["holds_text"] and row["auto_text"] == row["always_text"]
        row["off_ms"] = row["base_ms"]
        row["auto_ms"] = row["base_ms"] + row["gate_ms"] + row["auto_text_ms"]
        row["always_ms"] = row["base_ms"] + row["always_text_ms"]


def costs(rows: list[dict]) -> dict:
    def mean(key: str, picked: list[dict]) -> float:
        return sum(r[key] for r in picked) / len(picked)

    library = {k: mean(f"{k}_ms", rows) for k in ("off", "auto", "always")}

    def mixed(kinds: dict) -> dict:
        mix = {k: 0.0 for k in library}
        for part, share in PHONE_MIX.items():
            picked = [r for r in rows if r["kind"] in kinds[part]]
            for k in mix:
                mix[k] += share * mean(f"{k}_ms", picked)
        return mix

    out = {}
    for name, ms in (("library", library), ("phone_mix", mixed(MIX_KINDS)), ("phone_mix_12mp", mixed(MIX_KINDS_12MP))):
        out[name] = {**{f"{k}_ms_per_picture": v for k, v in ms.items()},
                     "auto_cost": 1 - ms["off"] / ms["auto"], "always_cost": 1 - ms["off"] / ms["always"]}
    return out


def index_run(folder: Path, work: Path, features: str, text: str, workers: int) -> dict:
    home = work / f"home-{features}-{text}".replace(",", "_")
    env = {**os.environ, "MEDIAINDEX_HOME": str(home), "MEDIAINDEX_FEATURES": features, "MEDIAINDEX_TEXT": text}
    env.pop("MEDIAINDEX_INDEX", None)
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "mediaindex", "index", str(folder), "--workers", str(workers),
                          "--json", "--no-progress"], capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    if run.returncode not in (0, 1):
        raise SystemExit(run.stderr)
    summary = json.loads(run.stdout)
    found = subprocess.run([sys.executable, "-m", "mediaindex", "search", "receipt", "--json", "--limit", "50"],
                           capture_output=True, text=True, env=env, cwd=ROOT)
    hits = sorted(h["key"].rsplit("/", 1)[-1] for h in json.loads(found.stdout)["hits"])
    return {"features": features, "text": text, "indexed": summary["indexed"], "wall_s": wall,
            "images_per_s": summary["indexed"] / wall, "search_receipt": hits}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-index", action="store_true", help="skip the `mediaindex index` runs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mediaindex-textgate-"))
    try:
        folder = work / "library"
        # a subprocess, so that its models do not share the cores with the timed index runs
        run = subprocess.run([sys.executable, __file__, "--probe", str(folder)], capture_output=True, text=True)
        if run.returncode:
            print(run.stderr, file=sys.stderr)
            return run.returncode
        rows = json.loads(run.stdout)
        judge(rows)
        print(f"{'picture':44} {'kind':18} {'off':>6} {'auto':>6} {'always':>6}  gate    text read (auto)")
        for r in rows:
            mark = "" if not r["holds_text"] else (" ok" if r["got_text"] else " MISSED")
            print(f"{r['file'][:44]:44} {r['kind']:18} {r['off_ms']:6.0f} {r['auto_ms']:6.0f} {r['always_ms']:6.0f}  "
                  f"{(r['reason'] or '-'):7} {r['auto_text'][:60]}{mark}")
        holding = [r for r in rows if r["holds_text"]]
        plain = [r for r in rows if not r["holds_text"]]
        by_kind: dict[str, list[int]] = {}
        for r in holding:
            got = by_kind.setdefault(r["kind"], [0, 0])
            got[0] += r["got_text"]
            got[1] += 1
        summary = {
            "pictures": len(rows), "holding_text": len(holding),
            "recall": sum(r["got_text"] for r in holding) / len(holding),
            "recall_by_kind": {k: f"{a}/{b}" for k, (a, b) in by_kind.items()},
            "missed": [r["file"] for r in holding if not r["got_text"]],
            "false_gate_rate": sum(r["reason"] is not None for r in plain) / len(plain),
            "false_gates": [r["file"] for r in plain if r["reason"] is not None],
            "read_by_gate": sum(r["reason"] is not None for r in rows),
            "mean_gate_ms": sum(r["gate_ms"] for r in rows) / len(rows),
            "costs": costs(rows), "phone_mix": PHONE_MIX,
        }
        print(f"\n{len(rows)} pictures, {len(holding)} holding text; the gate read {summary['read_by_gate']}")
        print(f"recall {summary['recall']:.2f} ({summary['recall_by_kind']}); missed: {summary['missed']}")
        print(f"false gate rate {summary['false_gate_rate']:.2f} ({len(summary['false_gates'])} of {len(plain)} "
              f"without text): {summary['false_gates']}")
        print(f"the gate's own time: {summary['mean_gate_ms']:.2f} ms a picture")
        for name, c in summary["costs"].items():
            print(f"model time a picture, {name}: off {c['off_ms_per_picture']:.0f} ms, auto "
                  f"{c['auto_ms_per_picture']:.0f} ms (cost {c['auto_cost']:.1%}), always "
                  f"{c['always_ms_per_picture']:.0f} ms (cost {c['always_cost']:.1%})")
        if not args.no_index:
            runs = [index_run(folder, work, OFF, "auto", args.workers), index_run(folder, work, ON, "auto", args.workers),
                    index_run(folder, work, ON, "always", args.workers)]
            base = runs[0]["images_per_s"]
            for r in runs:
                r["cost"] = 1 - r["images_per_s"] / base
                print(f"mediaindex index --workers {args.workers}, {r['features']}"
                      f"{' text ' + r['text'] if 'text' in r['features'] else ''}: {r['indexed']} in {r['wall_s']:.1f} s "
                      f"= {r['images_per_s']:.2f} images/s (cost {r['cost']:.1%}); search receipt: {r['search_receipt']}")
            summary["index_runs"] = runs
        if args.json:
            args.json.write_text(json.dumps({"summary": summary, "pictures": rows, "cores": os.cpu_count(),
                                             "load_average": os.getloadavg()}, indent=2))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--costs":  # the cost figures again from a --json file's pictures
        print(json.dumps(costs(json.loads(Path(sys.argv[2]).read_text())["pictures"]), indent=2))
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        print(json.dumps(probe(Path(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
