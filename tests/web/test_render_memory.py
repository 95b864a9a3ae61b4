"""Renderings have a memory budget: four thumbnails of a 60-megapixel PNG asked at once (a gallery page asks for
dozens) decode one at a time, so the process holds one such picture, not four. Measured as the peak resident memory
of a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = r"""
import io, json, resource, sys, threading
from PIL import Image
from mediaindex.media import thumbnails

big = Image.new("RGB", (9000, 6700), (200, 120, 40))  # 60 MP: a small file, a 180 MB decode
big.paste((20, 40, 200), (1000, 1000, 8000, 5700))
buf = io.BytesIO()
big.save(buf, "PNG")
data = buf.getvalue()
del big
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sizes = []
threads = [threading.Thread(target=lambda: sizes.append(Image.open(io.BytesIO(thumbnails.render_thumbnail(data))).size))
           for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"sizes": sizes, "grew_mb": (peak - base) / 1024, "file_mb": len(data) / 2**20}))
"""


def test_four_big_renderings_at_once_hold_one_decode_in_memory():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["sizes"] == [[360, 268]] * 4
    # one RGB decode of 60 MP is ~180 MB (Pillow's PNG decoder may hold a second copy while converting); four at once
    # would be 720 MB or more
    assert result["grew_mb"] < 450, result
