"""Clips for the video benchmarks, made with PyAV from ../shared/data: several shots of real photos (faces and
ImageNet scenes) slowly zooming and panning, and the real clip scaled up, at 1080p or 4K.

    python bench/video_clips.py OUT.mp4 [--side 1920] [--seconds 60] [--shots 10] [--codec libx264] [--gop 30]

`gop`: frames between key frames. Phones write one every second or so (30 at 30 fps); 0 leaves the encoder's
default (x264: at most 250 frames, plus a key frame at each cut it sees).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data"))
CLIP = DATA / "video" / "short_hamilton_clip.mp4"
# the shots, in order: photos with faces between scenes, and the real clip (two of its own shots) in the middle
SHOTS = ["faces/obama_1.jpg", "images/n02110185_Siberian_husky.JPEG", "faces/two_people_obama_biden.jpg",
         "images/n02793495_barn.JPEG", CLIP.name, "faces/lin_manuel_miranda_1.png",
         "images/n03796401_moving_van.JPEG", "faces/biden_1.jpg", "images/n07747607_orange.JPEG", "faces/guido_van_rossum_1.jpg"]


def _clip_frames(size: tuple[int, int]):
    import av

    with av.open(str(CLIP)) as c:
        for frame in c.decode(video=0):
            yield frame.to_image().resize(size)


def make_clip(out: Path, side: int = 1920, seconds: float = 60.0, shots: int = 10, fps: int = 30,
              codec: str = "libx264", gop: int = 30, preset: str = "veryfast") -> Path:
    """Write the clip; `shots` shots taken round-robin from SHOTS."""
    import av
    from PIL import Image

    size = (side, side * 9 // 16)
    # cuts 1.7 s before and after the even shares (4.3, 13.7, 16.3, 25.7, ... s for 10 shots in 60 s): shots of
    # 2.6 to 9.4 s, none starting on a multiple of the 6 s sampling interval
    cuts = [0] + [round((seconds * i / shots + (1.7 if i % 2 else -1.7) * (seconds / 60)) * fps) for i in range(1, shots)]
    cuts.append(round(seconds * fps))
    with av.open(str(out), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        options = {"preset": preset}
        if gop:
            options["g"] = str(gop)
            if codec == "libx265":
                options["x265-params"] = f"keyint={gop}:min-keyint={gop}:log-level=error"
        elif codec == "libx265":
            options["x265-params"] = "log-level=error"
        stream.options = options
        pts = 0
        for shot in range(shots):
            name = SHOTS[shot % len(SHOTS)]
            per_shot = cuts[shot + 1] - cuts[shot]
            if name == CLIP.name:
                frames = list(_clip_frames(size))
                source = [frames[(i + 90) % len(frames)] for i in range(per_shot)]
            else:
                photo = Image.open(DATA / name).convert("RGB")
                # fill the frame, then zoom in by 15 % over the shot (a slow Ken Burns move: every frame differs)
                scale = max(size[0] / photo.width, size[1] / photo.height) * 1.2
                base = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.BILINEAR)
                source = []
                for i in range(per_shot):
                    zoom = 1 + 0.15 * i / per_shot
                    w, h = size[0] / zoom * 1.0, size[1] / zoom
                    x, y = (base.width - w) / 2, (base.height - h) / 2
                    source.append(base.resize(size, Image.BILINEAR, box=(x, y, x + w, y + h)))
            for image in source:
                frame = av.VideoFrame.from_image(image)
                frame.pts = pts
                pts += 1
                for packet in stream.encode(frame):
                    container.mux(packet)
                del image
            del source
        for packet in stream.encode():
            container.mux(packet)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--side", type=int, default=1920)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--codec", default="libx264")
    parser.add_argument("--gop", type=int, default=30)
    parser.add_argument("--preset", default="veryfast")
    args = parser.parse_args()
    make_clip(args.out, args.side, args.seconds, args.shots, codec=args.codec, gop=args.gop, preset=args.preset)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
