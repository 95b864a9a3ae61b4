"""Decoding phone photos per format: HEIC, PNG, WebP, TIFF and JPEG at 12 and 48 megapixels, and a 100 MP
panorama, each decoded as the local analyzer does (`Picture.from_bytes` then `working_image(1280)`, the working copy
every model reads) in a process of its own: seconds and the process's peak resident memory.

    python bench/bench_formats.py [--json FILE] [--repeat 3]

The photos are ../shared/data/images/n02110185_Siberian_husky.JPEG scaled up (LANCZOS) and saved in each format
(JPEG quality 90, HEIC quality 80, WebP quality 85, PNG level 6, TIFF uncompressed and deflate). Only JPEG has
reduced decoding in Pillow (DCT scaling: `draft`); the others are decoded in full, then scaled. Peak memory is the
process's (Python, Pillow and pillow-heif imported: about `baseline_mb`), so a decode's own cost is the difference.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT / "bench")]

from proc_memory import peak_rss_mb  # noqa: E402

DATA = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data"))
SOURCE = DATA / "images" / "n02110185_Siberian_husky.JPEG"
SIZES = {"12mp": (4032, 3024), "48mp": (8064, 6048), "100mp-panorama": (20000, 5000)}
FORMATS = {  # name: (Pillow format, save options)
    "jpeg": ("JPEG", {"quality": 90}),
    "heic": ("HEIF", {"quality": 80}),
    "webp": ("WEBP", {"quality": 85}),
    "png": ("PNG", {"compress_level": 6}),
    "tiff": ("TIFF", {}),
    "tiff-deflate": ("TIFF", {"compression": "tiff_adobe_deflate"}),
}
SETS = [(f, "12mp") for f in FORMATS] + [(f, "48mp") for f in FORMATS] + [("jpeg", "100mp-panorama"),
                                                                           ("png", "100mp-panorama")]


def make(folder: Path, fmt: str, size: str) -> Path:
    from PIL import Image

    from mediaindex.media.picture import register_heif

    register_heif()
    pillow_format, options = FORMATS[fmt]
    path = folder / f"{size}.{fmt}"
    if not path.exists():
        image = Image.open(SOURCE).convert("RGB").resize(SIZES[size], Image.LANCZOS)
        buf = io.BytesIO()
        image.save(buf, pillow_format, **options)
        path.write_bytes(buf.getvalue())
    return path


def decode_once(path: Path, repeat: int) -> dict:
    """In this process: the working copy `repeat` times; the best time and the peak memory."""
    from mediaindex.media.picture import Picture, register_heif

    register_heif()
    baseline = peak_rss_mb()
    data = path.read_bytes()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        picture = Picture.from_bytes(data)
        working = picture.working_image(1280)
        times.append(time.perf_counter() - started)
        size = picture.size
        del picture, working
    return {"file_mb": len(data) / 1e6, "size": list(size), "seconds": min(times), "baseline_mb": baseline,
            "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--folder", type=Path, help="keep the made photos here (made again when missing)")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(decode_once(args.one, args.repeat)))
        return
    folder = args.folder or Path(tempfile.mkdtemp(prefix="mediaindex-formats-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for fmt, size in SETS:
        path = make(folder, fmt, size)
        out = subprocess.run([sys.executable, __file__, "--one", str(path), "--repeat", str(args.repeat)],
                             capture_output=True, text=True, check=True)
        result = {"format": fmt, "set": size, **json.loads(out.stdout)}
        results.append(result)
        print(f"{size:<15} {fmt:<13} {result['file_mb']:6.1f} MB  decode to the working copy {result['seconds'] * 1000:7.0f} ms"
              f"  peak RSS {result['peak_rss_mb']:6.0f} MB (baseline {result['baseline_mb']:.0f})", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"command": "python bench/bench_formats.py", "cpus": os.cpu_count(),
                                         "results": results}, indent=2))


if __name__ == "__main__":
    main()
