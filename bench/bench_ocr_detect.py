"""OCR with the text detector at RapidOCR's default size (short side scaled up to 736) against capped long sides.

    python bench/bench_ocr_detect.py [--sides 960,640]

Reads every picture of bench/text_library.py's library (60 pictures) with each setting, one thread, and prints the
milliseconds a picture and the distinct words of three letters or more read, in all and lost against the default.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sides", default="960,640")
    args = parser.parse_args()
    from text_library import make_library

    from mediaindex.adapters.analysis.local import models
    from mediaindex.adapters.analysis.local.analyzer import working_copy
    from mediaindex.adapters.analysis.local.extras import TextReader
    from mediaindex.media.picture import Picture

    models.set_threads(1)
    work = Path(tempfile.mkdtemp(prefix="mediaindex-ocr-"))
    try:
        items = make_library(work)
        readers = {}
        for name, params in [("default", {})] + [(f"max{side}", {"Det.limit_side_len": int(side),
                                                                 "Det.limit_type": "max"})
                                                 for side in args.sides.split(",")]:
            reader = TextReader()
            from rapidocr import RapidOCR

            reader.engine = RapidOCR(params={"EngineConfig.onnxruntime.intra_op_num_threads": 1,
                                             "EngineConfig.onnxruntime.inter_op_num_threads": 1, **params})
            logging.getLogger("RapidOCR").setLevel(logging.ERROR)
            readers[name] = reader
        seconds = dict.fromkeys(readers, 0.0)
        words = dict.fromkeys(readers, 0)
        lost: dict[str, list] = {name: [] for name in readers}
        for item in items:
            image = working_copy(Picture.from_bytes(item.path.read_bytes()).image)
            found = {}
            for name, reader in readers.items():
                started = time.perf_counter()
                lines = reader.read(image, 55)
                seconds[name] += time.perf_counter() - started
                found[name] = set(re.findall(r"[a-z]{3,}", " ".join(line.text for line in lines).lower()))
                words[name] += len(found[name])
            for name in readers:
                if found["default"] - found[name]:
                    lost[name].append([item.path.name, sorted(found["default"] - found[name])])
        print(json.dumps({"pictures": len(items),
                          "ms_per_picture": {k: round(v / len(items) * 1000, 1) for k, v in seconds.items()},
                          "words": words, "lost_against_default": lost}, indent=1))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
