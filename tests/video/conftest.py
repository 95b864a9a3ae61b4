"""Fixtures for the video tests: the real clip's bytes, deterministic analyzers that look at the frame's pixels,
and a pipeline of fakes with the video indexer installed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import ImageStat

from mediaindex.domain.model import Analysis, Box, Face, Label
from mediaindex.services.indexing import Pipeline
from mediaindex.services.video import VideoIndexer
from tests.fakes import FakeFaces, FakeIndex, FakeStorage


class ColourAnalyzer:
    """Labels a frame with its dominant colour ("Red", "Green", "Blue"; parent "Colour") and finds one face on
    red frames only. Counts its calls; a picture's pixels decide everything, so results are deterministic."""

    name = "colour"
    face_model = None

    def __init__(self) -> None:
        self.calls = 0
        self.sizes: list[tuple[int, int]] = []

    def analyze(self, picture) -> Analysis:
        self.calls += 1
        self.sizes.append(picture.image.size)
        r, g, b = ImageStat.Stat(picture.image).mean[:3]
        colour = ("Red", "Green", "Blue")[max(range(3), key=lambda i: (r, g, b)[i])]
        faces = [Face(Box(0.2, 0.2, 0.3, 0.4), 98.0, embedding=[1.0, 0.0])] if colour == "Red" else []
        return Analysis(self.name, labels=[Label(colour, 80.0 + (r + g + b) / 100, parents=["Colour"])],
                        faces=faces, api_calls=1)


class BrightnessAnalyzer:
    """For the real clip: "Bright" or "Dark" by the frame's mean luminance, and one face on bright frames."""

    name = "brightness"
    face_model = None
    threshold = 30.0  # the clip sampled each second: 16-36, so both labels and gaps occur

    def __init__(self) -> None:
        self.calls = 0
        self.seen: list[str] = []

    def analyze(self, picture) -> Analysis:
        self.calls += 1
        luminance = ImageStat.Stat(picture.image.convert("L")).mean[0]
        label = "Bright" if luminance > self.threshold else "Dark"
        self.seen.append(label)
        faces = [Face(Box(0.4, 0.2, 0.2, 0.3), 95.0)] if label == "Bright" else []
        return Analysis(self.name, labels=[Label(label, 90.0)], faces=faces, api_calls=1)


@pytest.fixture(scope="session")
def clip_bytes(video_path: Path) -> bytes:
    return video_path.read_bytes()


def make_pipeline(analyzer, faces=None) -> Pipeline:
    return Pipeline(storage=FakeStorage(), analyzer=analyzer, index=FakeIndex(), faces=faces)


@pytest.fixture
def colour_indexer():
    def build(interval: float = 1.0, person: str | None = "Ada Lovelace", **options) -> VideoIndexer:
        return VideoIndexer(ColourAnalyzer(), FakeFaces(person), interval=interval, **options)

    return build
