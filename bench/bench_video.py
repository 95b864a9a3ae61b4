"""How long video indexing takes: processing seconds per minute of video, frames sampled/skipped/analysed.

    python bench/bench_video.py [--interval 6] [--minutes 3] [--analyzer local|fake] [--follow 2]

Two inputs: the real clip (../shared/data/video/short_hamilton_clip.mp4, 9 s, 640x360 H.264) and a synthesised
long video (--minutes of 1280x720 H.264 at 30 fps: a scene change every 20 s and a static stretch, so the
skip test has something to skip). With the local analyzer when it imports (models loaded before timing),
else with a fake analyzer that only touches the pixels (then the figures are decoding + sampling cost only).
Decoding-only figures (no analyzer) are printed too. The local analyzer follows faces over `--follow` frames after
each sample (MEDIAINDEX_VIDEO_FOLLOW_FRAMES); the clip is also run without following, to show what it costs.

    python bench/bench_video.py --phone DIR [--json FILE]

The phone set (issue 26): clips made by bench/video_clips.py in DIR (kept there for the next run): 60 s of 1080p
H.264 with 10 shots and a key frame a second, as phones write, the same with x264's default key frames (at most
250 frames apart, plus one at each cut it sees), 60 s of 1080p HEVC, and 30 s of 4K H.264 and HEVC. Each is indexed at the
default settings (a frame every 6 s, shots, 2 following frames) by the local analyzer in a process of its own
(models loaded before timing): seconds, times real time, frames decoded of all, the model time, and the process's
peak resident memory (models included). Then `mediaindex index` of the 1080p clip alone with one worker, timed
from start to exit as a user would (start-up and model loading included).
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
sys.path.insert(0, str(ROOT / "bench"))

from PIL import Image, ImageDraw, ImageStat  # noqa: E402

from mediaindex.config import Settings  # noqa: E402
from mediaindex.domain.model import Analysis, Label  # noqa: E402
from mediaindex.media.video import VideoReader  # noqa: E402
from mediaindex.ports import ObjectRef, StoredObject  # noqa: E402
from mediaindex.services.video import DEFAULT_FOLLOW_FRAMES, VideoIndexer  # noqa: E402
from proc_memory import peak_rss_mb  # noqa: E402

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


PHONE_CLIPS = {  # name: video_clips.make_clip arguments
    "1080p-h264-phone.mp4": {"side": 1920, "seconds": 60, "shots": 10, "gop": 30},
    "1080p-h264-x264default.mp4": {"side": 1920, "seconds": 60, "shots": 10, "gop": 0},
    "1080p-hevc-phone.mp4": {"side": 1920, "seconds": 60, "shots": 10, "gop": 30, "codec": "libx265", "preset": "ultrafast"},
    "4k-h264-phone.mp4": {"side": 3840, "seconds": 30, "shots": 5, "gop": 30, "preset": "ultrafast"},
    "4k-hevc-phone.mp4": {"side": 3840, "seconds": 30, "shots": 5, "gop": 30, "codec": "libx265", "preset": "ultrafast"},
}


def one_clip(path: Path) -> dict:
    """Index one clip with the local analyzer at the default settings (in this process); the figures as a dict."""
    import av

    from mediaindex.adapters.analysis.local import LocalAnalyzer
    from mediaindex.media.video import LOCAL_FRAME_SIDE

    analyzer = LocalAnalyzer(Settings())
    analyzer.load()
    spent = {"analyze": 0.0, "analyze_faces": 0.0}
    for method in spent:
        original = getattr(analyzer, method)

        def timed(picture, *more, original=original, method=method):
            started = time.perf_counter()
            try:
                return original(picture, *more)
            finally:
                spent[method] += time.perf_counter() - started
        setattr(analyzer, method, timed)
    data = path.read_bytes()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for packet in container.demux(stream) if packet.size)
        codec, size = stream.codec_context.name, f"{stream.width}x{stream.height}"
    settings = Settings()
    started = time.perf_counter()
    with VideoReader(data, frame_side=LOCAL_FRAME_SIDE) as reader:
        list(reader.samples(settings.video_interval, follow=settings.video_follow_frames, shots=settings.video_shots))
        decoded = reader.frames_decoded
    decode_seconds = time.perf_counter() - started
    indexer = VideoIndexer(analyzer, NoFaces(), interval=settings.video_interval,
                           follow_frames=settings.video_follow_frames, shots=settings.video_shots)
    started = time.perf_counter()
    fields, _ = indexer(StoredObject(ObjectRef("bench", path.name), data, len(data)))
    elapsed = time.perf_counter() - started
    video = fields["video"]
    return {"name": path.name, "codec": codec, "size": size, "duration_s": video["duration"], "elapsed_s": elapsed,
            "x_real_time": video["duration"] / elapsed, "decode_and_sample_s": decode_seconds,
            "frames": frames, "frames_decoded": decoded, "frames_analysed": video["frames_analysed"],
            "frames_at_shots": video["frames_at_shots"], "frames_followed": video["frames_followed"],
            "analyze_s": spent["analyze"], "analyze_faces_s": spent["analyze_faces"],
            "peak_rss_mb": peak_rss_mb()}


def phone_set(folder: Path) -> dict:
    import subprocess

    from video_clips import make_clip

    folder.mkdir(parents=True, exist_ok=True)
    runs = []
    for name, options in PHONE_CLIPS.items():
        path = folder / name
        if not path.exists():
            started = time.perf_counter()
            make_clip(path, **options)
            print(f"(made {name} in {time.perf_counter() - started:.0f} s)")
        out = subprocess.run([sys.executable, __file__, "--one", str(path)], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        runs.append(result)
        print(f"{name:<28} {result['codec']:<5} {result['size']:<10} {result['duration_s']:5.1f} s in "
              f"{result['elapsed_s']:5.2f} s = {result['x_real_time']:5.1f}x real time | decoded "
              f"{result['frames_decoded']}/{result['frames']} frames, decode+sample {result['decode_and_sample_s']:.2f} s | "
              f"analysed {result['frames_analysed']} (shots {result['frames_at_shots']}) + {result['frames_followed']} followed: "
              f"models {result['analyze_s']:.2f} + {result['analyze_faces_s']:.2f} s | peak RSS {result['peak_rss_mb']:.0f} MB")
    # as a user: `mediaindex index` of the 1080p clip alone, one worker, start-up and model loading included
    import shutil
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        shutil.copy(folder / "1080p-h264-phone.mp4", media)
        env = {**os.environ, "MEDIAINDEX_HOME": str(Path(tmp) / "home")}
        env.pop("MEDIAINDEX_INDEX", None)
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "mediaindex", "index", str(media), "--workers", "1", "--json",
                              "--no-progress"], capture_output=True, text=True, env=env, cwd=ROOT)
        wall = time.perf_counter() - started
        summary = json.loads(run.stdout)
    cli = {"clip": "1080p-h264-phone.mp4", "wall_s": wall, "x_real_time": 60.0 / wall, "indexed": summary["indexed"]}
    print(f"mediaindex index (1 worker, 60 s 1080p clip, models loaded in the run): {wall:.1f} s = "
          f"{60.0 / wall:.1f}x real time")
    return {"runs": runs, "cli": cli}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phone", type=Path, help="run the phone set, its clips kept in this folder")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=float, default=6.0)
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the synthesised video")
    parser.add_argument("--analyzer", choices=("local", "fake"), default="local")
    parser.add_argument("--follow", type=int, default=DEFAULT_FOLLOW_FRAMES,
                        help="frames after each sample searched for the same faces (local analyzer)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_clip(args.one)))
        return
    if args.phone:
        result = phone_set(args.phone)
        if args.json:
            args.json.write_text(json.dumps({"command": "python bench/bench_video.py --phone DIR", "cpus": os.cpu_count(),
                                             **result}, indent=2))
        return

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
