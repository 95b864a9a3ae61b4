"""The web API's latency as a browser sees it: `mediaindex serve` in its own process, on a library of the real
labelled photos (../shared/data/images and faces, indexed once with the local models), asked over one keep-alive
connection, as the gallery does:

- `search`: GET /api/search?q=... for plain words and a sentence (the page's query, facets counted);
- `thumbnail`: GET /api/documents/{id}/thumbnail, first the rendering (each photo once, cold) and then from the
  cache;
- `media_range`: GET /api/documents/{id}/media with a Range header (a video seek or a big photo's first bytes);
- `start_s`: from starting the process to its first answer.

    python bench/bench_api.py [--rounds 200] [--json results.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
CLI = "import sys; from mediaindex.entrypoints.cli import main; sys.exit(main(sys.argv[1:]))"
QUERIES = ("dog", "a dog on the grass", "person", "bird OR fish")


def percentiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {"n": len(times), "p50_ms": round(statistics.median(times) * 1000, 2),
            "p95_ms": round(times[int(len(times) * 0.95) - 1] * 1000, 2), "max_ms": round(times[-1] * 1000, 2)}


def index_folder(folder: Path, home: Path, quiet: bool = True) -> float:
    """`mediaindex index FOLDER --home HOME` (the local models, default features less text): seconds, start to exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", CLI, "index", str(folder), "--home", str(home), "--no-progress"],
                   check=True, stdout=subprocess.DEVNULL if quiet else None,
                   env={**os.environ, "MEDIAINDEX_TEXT": "never"})
    return time.perf_counter() - started


def start_server(home: Path) -> tuple[subprocess.Popen[str], str, float]:
    """`mediaindex serve --port 0`; its address is read from the line it prints when it listens."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", CLI, "serve", "--home", str(home),
                                "--port", "0"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if found:
            return process, found.group(1), started
    raise RuntimeError(f"mediaindex serve did not start (exit {process.wait()})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="requests per measured kind")
    parser.add_argument("--home", type=Path, help="keep the indexed library here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"error: the test media are missing: {SHARED}", file=sys.stderr)
        return 1

    home = args.home or Path(tempfile.mkdtemp(prefix="bench-api-"))
    library = home / "photos"
    if not (home / "index.db").exists():
        library.mkdir(parents=True, exist_ok=True)
        for sub in ("images", "faces"):
            for path in sorted((SHARED / sub).iterdir()):
                shutil.copyfile(path, library / path.name)
        index_folder(library, home, quiet=False)

    # indexing leaves each photo's thumbnail in the cache: emptied, so that `thumbnail_first` measures the rendering
    shutil.rmtree(home / "thumbnails", ignore_errors=True)
    process, port, started = start_server(home)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)

        def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()

        status, _ = get("/api/config")
        start_s = time.perf_counter() - started
        assert status == 200
        status, body = get("/api/search?q=&limit=200")
        ids = [hit["id"] for hit in json.loads(body)["hits"]]
        result: dict[str, object] = {"documents": len(ids), "start_s": round(start_s, 3)}

        def timed(paths: list[str], headers: dict[str, str] | None = None, ok: tuple[int, ...] = (200,)) -> dict[str, float]:
            """Each path asked once, in order, on the one connection: the percentiles of their times."""
            times = []
            for path in paths:
                t = time.perf_counter()
                status, _ = get(path, headers)
                times.append(time.perf_counter() - t)
                assert status in ok, (path, status)
            return percentiles(times)

        searches = [f"/api/search?q={q.replace(' ', '+')}" for q in QUERIES]
        timed(searches)  # warm: the first search of a process loads the query side
        rounds = range(args.rounds)
        result["search"] = timed([searches[i % len(searches)] for i in rounds])
        result["thumbnail_first"] = timed([f"/api/documents/{doc_id}/thumbnail" for doc_id in ids])
        result["thumbnail_cached"] = timed([f"/api/documents/{ids[i % len(ids)]}/thumbnail" for i in rounds])
        result["media_range"] = timed([f"/api/documents/{ids[i % len(ids)]}/media" for i in rounds],
                                      {"Range": "bytes=0-65535"}, ok=(200, 206))
        conn.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
