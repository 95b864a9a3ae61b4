"""Small videos written with PyAV for the tests: solid-colour scenes, noise, every container we claim to read."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

import av
from PIL import Image

# container -> (file suffix, encoder); the muxer is chosen from the suffix
CONTAINERS = {
    "mp4": (".mp4", "libx264"),
    "mov": (".mov", "libx264"),
    "mkv": (".mkv", "libx264"),
    "webm": (".webm", "libvpx"),
    "avi": (".avi", "mpeg4"),
    "ts": (".ts", "mpeg2video"),
}

SIZE = (160, 96)


def solid(colour: tuple[int, int, int], size: tuple[int, int] = SIZE) -> Image.Image:
    return Image.new("RGB", size, colour)


def noise(seed: int, size: tuple[int, int] = SIZE) -> Image.Image:
    """Random coarse blocks (8x6 of them): two seeds differ even in a 32x32 thumbnail, unlike pixel noise."""
    rng = random.Random(seed)
    blocks = Image.frombytes("RGB", (8, 6), bytes(rng.randrange(256) for _ in range(8 * 6 * 3)))
    return blocks.resize(size, Image.Resampling.NEAREST)


def scenes(fps: int, *spans: tuple[Image.Image, float]) -> list[Image.Image]:
    """Frames for consecutive scenes: (picture, seconds) each."""
    frames: list[Image.Image] = []
    for picture, seconds in spans:
        frames += [picture] * round(seconds * fps)
    return frames


def write_video(
    path: Path, frames: Sequence[Image.Image], fps: int = 5, codec: str | None = None,
    options: dict[str, str] | None = None, rotation: int | None = None, gop: int = 1000,
) -> bytes:
    suffix = path.suffix
    codec = codec or next(c for s, c in CONTAINERS.values() if s == suffix)
    with av.open(str(path), "w", options=options or {}) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":  # by default one key frame at the start only: seeking must still find later frames
            stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, picture in enumerate(frames):
            frame = av.VideoFrame.from_image(picture)
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def audio_only_mp4(path: Path, seconds: float = 1.0) -> bytes:
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        samples = int(44100 * seconds)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, samples), dtype="float32"), format="fltp", layout="mono")
        frame.sample_rate = 44100
        frame.pts = 0
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()
