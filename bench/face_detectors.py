"""Face detectors side by side on the test media: YuNet (the local analyzer's) at several score thresholds, and
dlib's HOG detector (the one before it) with 0, 1 and 2 upsamplings.

    python bench/face_detectors.py [--repeat 3]

For each: milliseconds per labelled photo (../shared/data/images, 500x375 or so; one thread), faces found on those
photos that are real and false (the ground truth below was read off every face any setting finds), the faces found
on the portraits (../shared/data/faces), and in how many of the clip's first 8 frames the pianist is found: Alex
Lacamoire, about 24 pixels wide at the bottom left of the 640x360 frame (x < 120, y > 150), the small face the video
acceptance depends on. The analyzer's YuNet threshold is chosen from this table (docs/local-models.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from mediaindex.adapters.analysis.local import LocalAnalyzer, models  # noqa: E402
from mediaindex.config import Settings  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
# Real faces on the labelled photos, counted by eye on crops of everything any detector here finds (at YuNet 0.5
# and HOG x2): people in these photos. Every other detection on them is false (a dog's face, a teddy, a microphone,
# a slot machine, a barn wall).
REAL_FACES = {
    "n02669723_academic_gown.JPEG": 1, "n02860847_bobsled.JPEG": 2, "n03445924_golfcart.JPEG": 1,
    "n03887697_paper_towel.JPEG": 2, "n04136333_sarong.JPEG": 1, "n04487394_trombone.JPEG": 1,
}
THRESHOLDS = (0.5, 0.7, 0.75, 0.8, 0.83, 0.85, 0.9)


def load(path: Path) -> np.ndarray:
    from PIL import Image

    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))


def clip_frames(count: int = 8) -> list[np.ndarray]:
    import av

    frames = []
    with av.open(str(DATA / "video" / "short_hamilton_clip.mp4")) as container:
        for frame in container.decode(container.streams.video[0]):
            frames.append(np.ascontiguousarray(np.asarray(frame.to_image().convert("RGB"))))
            if len(frames) == count:
                break
    return frames


def is_pianist(box: tuple[float, float, float, float]) -> bool:
    left, top, right, _ = box
    return right < 120 and top > 150


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the labelled photos")
    args = parser.parse_args()
    models.set_threads(1)
    labelled = {p.name: load(p) for p in sorted((DATA / "images").iterdir())}
    portraits = {p.name: load(p) for p in sorted((DATA / "faces").iterdir())}
    frames = clip_frames()

    yunet = LocalAnalyzer(Settings(features=("faces",))).model("face_detector")

    def run_yunet(image: np.ndarray, threshold: float) -> list[tuple[float, float, float, float]]:
        return [(f.left, f.top, f.right, f.bottom) for f in yunet.detect(image, min_score=threshold)]

    import dlib

    hog = dlib.get_frontal_face_detector()

    def hog_runner(upsample: int):
        def run(image: np.ndarray, _threshold: float = 0.0) -> list[tuple[float, float, float, float]]:
            return [(r.left(), r.top(), r.right(), r.bottom()) for r in hog(image, upsample)]
        return run

    rows = [(f"YuNet >= {t:g}", run_yunet, t) for t in THRESHOLDS]
    rows += [(f"HOG x{u}", hog_runner(u), 0.0) for u in (0, 1, 2)]
    print(f"{'detector':<14}{'ms/photo':>9}{'real':>6}{'false':>6}{'portrait faces':>15}{'pianist frames':>15}")
    for name, run, threshold in rows:
        times = []
        for _ in range(args.repeat if name.startswith("YuNet >= 0.85") or name.startswith("HOG") else 1):
            for image in labelled.values():
                started = time.perf_counter()
                run(image, threshold)
                times.append(time.perf_counter() - started)
        real = false = 0
        for file, image in labelled.items():
            found = len(run(image, threshold))
            expected = REAL_FACES.get(file, 0)
            real += min(found, expected)
            false += max(0, found - expected)
        portrait_faces = sum(len(run(image, threshold)) for image in portraits.values())
        pianist = sum(any(is_pianist(b) for b in run(frame, threshold)) for frame in frames)
        print(f"{name:<14}{statistics.mean(times) * 1000:>9.1f}{real:>4}/{sum(REAL_FACES.values())}{false:>6}"
              f"{portrait_faces:>15}{pianist:>12}/{len(frames)}")


if __name__ == "__main__":
    main()
