"""How long video indexing takes: processing seconds per minute of video, frames sampled/skipped/analysed.

    python bench/bench_video.py [--interval 6] [--minutes 3] [--analyzer local|fake] [--follow 2]

Two inputs: the real clip (../shared/data/video/short_hamilton_clip.mp4, 9 s, 640x360 H.264) and a synthesised
long video (--minutes of 1280x720 H.264 at 30 fps: a scene change every 20 s and a static stretch, so the
skip test has something to skip). With the local analyzer when it imports (models loaded before timing),
else with a fake analyzer that only touches the pixels (then the figures are decoding + sampling cost only).
Decoding-only figures (no analyzer) are printed too. The local analyzer follows faces over `--follow` frames after
each sample (MEDIAINDEX_VIDEO_FOLLOW_FRAMES); the clip is also run without following, to show what it costs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageStat  # noqa: E402

from mediaindex.config import Settings  # noqa: E402
from mediaindex.domain.model import Analysis, Label  # noqa: E402
from mediaindex.media.video import VideoReader  # noqa: E402
from mediaindex.ports import ObjectRef, StoredObject  # noqa: E402
from mediaindex.services.video import DEFAULT_FOLLOW_FRAMES, VideoIndexer  # noqa: E402

CLIP = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data")) / "video" / "short_hamilton_clip.mp4"


class PixelAnalyzer:
    """Stands in for a model: converts the frame to grey and labels its brightness (a few ms a frame)."""

    name = "fake"

    def analyze(self, picture) -> Analysis:
        level = ImageStat.Stat(picture.image.convert("L")).mean[0]
        return Analysis(self.name, labels=[Label("Bright" if level > 100 else "Dark", 90.0)])


class NoFaces:
    def is_empty(self) -> bool:
        return True

    def identify(self, picture, faces):
        return [None] * len(faces), 0

    def remember(self, sha, faces):
        pass

    def has_remembered(self, sha, face_count):
        return True

    def hidden_boxes(self, sha):
        return []


def synth_video(path: Path, minutes: float, fps: int = 30, size=(1280, 720)) -> None:
    import av

    rng = random.Random(7)
    seconds = int(minutes * 60)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(fps * 4)}
        scene = None
        for second in range(seconds):
            if second % 20 == 0:  # a new scene every 20 s; the second half of the video changes slowly
                scene = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
                draw = ImageDraw.Draw(scene)
                for _ in range(30):
                    x, y = rng.randrange(size[0]), rng.randrange(size[1])
                    draw.ellipse((x, y, x + 150, y + 150), fill=tuple(rng.randrange(256) for _ in range(3)))
            for i in range(fps):
                frame = scene.copy()
                if second < seconds // 2:  # motion: a moving bar in the first half
                    ImageDraw.Draw(frame).rectangle((0, (second * fps + i) * 7 % size[1], size[0], ((second * fps + i) * 7 % size[1]) + 80), fill=(255, 255, 255))
                vf = av.VideoFrame.from_image(frame)
                vf.pts = second * fps + i
                for packet in stream.encode(vf):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def decode_only(data: bytes, interval: float) -> tuple[float, int, int, float]:
    started = time.perf_counter()
    with VideoReader(data) as reader:
        duration = reader.info.duration
        samples = list(reader.samples(interval))
    return time.perf_counter() - started, len(samples), sum(s.skipped for s in samples), duration


def run(name: str, data: bytes, analyzer, interval: float, follow: int) -> dict:
    indexer = VideoIndexer(analyzer, NoFaces(), interval=interval, follow_frames=follow)
    decode_seconds, _, _, _ = decode_only(data, interval)
    started = time.perf_counter()
    fields, _ = indexer(StoredObject(ObjectRef("bench", name), data, len(data)))
    elapsed = time.perf_counter() - started
    video = fields["video"]
    minutes = video["duration"] / 60
    print(f"{name:<28} {video['duration']:>7.1f} s  {video['width']}x{video['height']:<5} "
          f"sampled {video['frames_sampled']:>3}  skipped {video['frames_skipped']:>3}  "
          f"analysed {video['frames_analysed']:>3}  followed {video['frames_followed']:>3}  | decode+sample {decode_seconds / minutes:6.2f} s/min  "
          f"| with analyzer {elapsed / minutes:6.2f} s/min ({elapsed:.2f} s)")
    return {"name": name, "interval_s": interval, "duration_s": video["duration"], "frames_sampled": video["frames_sampled"],
            "frames_skipped": video["frames_skipped"], "frames_analysed": video["frames_analysed"],
            "frames_followed": video["frames_followed"],
            "decode_s_per_min": decode_seconds / minutes, "s_per_min": elapsed / minutes, "elapsed_s": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=6.0)
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the synthesised video")
    parser.add_argument("--analyzer", choices=("local", "fake"), default="local")
    parser.add_argument("--follow", type=int, default=DEFAULT_FOLLOW_FRAMES,
                        help="frames after each sample searched for the same faces (local analyzer)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    args = parser.parse_args()

    analyzer = PixelAnalyzer()
    if args.analyzer == "local":
        try:
            from mediaindex.adapters.analysis.local import LocalAnalyzer
        except ImportError as e:
            print(f"local analyzer not importable ({e}): using a fake analyzer (figures = decoding + sampling)")
        else:
            analyzer = LocalAnalyzer(Settings())
            started = time.perf_counter()
            analyzer.load()
            print(f"local analyzer: models loaded in {time.perf_counter() - started:.1f} s (not counted below)")
    if isinstance(analyzer, PixelAnalyzer):
        print("analyzer: FAKE (grey-level label only); the figures measure decoding, sampling and skipping")
    print(f"interval {args.interval:g} s; {os.cpu_count()} CPUs")

    clip = CLIP.read_bytes()
    runs = [run("short_hamilton_clip.mp4", clip, analyzer, args.interval, args.follow),
            run("short_hamilton_clip.mp4@1s", clip, analyzer, 1.0, args.follow),
            run("short_hamilton_clip.mp4@1s,no-follow", clip, analyzer, 1.0, 0)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synth.mp4"
        started = time.perf_counter()
        synth_video(path, args.minutes)
        print(f"(synthesised {args.minutes:g} min of 1280x720 in {time.perf_counter() - started:.0f} s, "
              f"{path.stat().st_size / 1e6:.1f} MB)")
        data = path.read_bytes()
        runs.append(run(f"synth-{args.minutes:g}min-720p.mp4", data, analyzer, args.interval, args.follow))
        runs.append(run(f"synth-{args.minutes:g}min-720p.mp4@2s", data, analyzer, 2.0, args.follow))
    if args.json:
        args.json.write_text(json.dumps({"analyzer": type(analyzer).__name__, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
