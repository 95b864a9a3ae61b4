"""The gallery's first screen on a phone library: how long the thumbnails of N 12 MP photos take to come, as JPEG
and as HEIC, made when the photos were indexed (Pipeline._keep_thumbnail: from the pixels the analysis decoded)
against made on demand (the first visit renders each from its file, as before).

    python bench/bench_gallery_formats.py [--photos 24] [--json FILE]

The photos are ../shared/data/images scaled to 4032 px, saved as JPEG q90 and as HEIC (a grid of 512 px tiles, as an
iPhone writes; x265's ultrafast preset). Each set is indexed by `mediaindex index` (the local models, default
features less text) into a fresh home, timed from start to exit; then `mediaindex serve` is asked for every
photo's thumbnail once, in order, over one keep-alive connection (as the gallery asks for a screen of them, less
the browser's parallel connections): with the thumbnails the indexing left in the cache, and again with the cache
emptied (what the first visit cost before, and costs a JPEG now).
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_api import SHARED, index_folder, percentiles, start_server  # noqa: E402 - after the path above
from bench_throughput import make_photos  # noqa: E402


def thumbnails(home: Path) -> dict[str, object]:
    process, port, _ = start_server(home)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)

        def get(path: str) -> tuple[int, bytes]:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()

        status, body = get("/api/search?q=&limit=200")
        ids = [hit["id"] for hit in json.loads(body)["hits"]]
        times = []
        started = time.perf_counter()
        for doc_id in ids:
            t = time.perf_counter()
            status, _ = get(f"/api/documents/{doc_id}/thumbnail")
            times.append(time.perf_counter() - t)
            assert status == 200, status
        total = time.perf_counter() - started
        conn.close()
        return {"thumbnails": len(ids), "all_s": round(total, 3), **percentiles(times)}
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=24, help="photos per format (a first screen shows about 24)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"error: the test media are missing: {SHARED}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench-gallery-"))
    result: dict[str, object] = {"photos": args.photos}
    try:
        for fmt in ("jpeg", "heic"):
            home = work / fmt
            (home / "photos").mkdir(parents=True)
            # JPEG q90, HEIC q80 (a grid of 512 px tiles, x265's ultrafast preset), both at 4032 px
            make_photos(home / "photos", [80 if fmt == "heic" else 90], phone=True, heic=fmt == "heic",
                        count=args.photos)
            indexed_s = index_folder(home / "photos", home)
            kept = sum(1 for _ in (home / "thumbnails").rglob("*.jpg")) if (home / "thumbnails").exists() else 0
            at_index = thumbnails(home)
            shutil.rmtree(home / "thumbnails", ignore_errors=True)
            on_demand = thumbnails(home)
            result[fmt] = {"index_s": round(indexed_s, 2), "thumbnails_kept_at_index": kept,
                           "first_visit_with_index_time_thumbnails": at_index, "first_visit_on_demand": on_demand}
            print(f"{fmt}: {args.photos} photos indexed in {indexed_s:.1f} s ({kept} thumbnails kept); "
                  f"{at_index['thumbnails']} thumbnails {at_index['all_s']:.2f} s with what indexing kept, "
                  f"{on_demand['all_s']:.2f} s rendered on demand (p50 {at_index['p50_ms']:.0f} / "
                  f"{on_demand['p50_ms']:.0f} ms)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
