"""Search by description on a tiny CLIP model (tests/support/tiny_clip.py) that runs for real: its files, pictures of
one dominant colour with texture, and a real embedded index with the vector store beside it."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest
from PIL import Image

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.adapters.vectors.local import LocalPictureVectors
from tests.support import tiny_clip

NAME = "tiny"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding the tiny CLIP model as `clip/tiny` (never altered by a test: copy it to change it)."""
    base = tmp_path_factory.mktemp("models")
    tiny_clip.build(base / "clip" / NAME)
    return base


def coloured(colour: tuple[int, int, int], size: tuple[int, int] = (320, 240), seed: int = 0, fmt: str = "PNG") -> bytes:
    """A picture of one dominant colour with a gradient and noise over it (a flat picture counts as blank and gets no vector)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(-25, 25, size[0])[None, :, None]  # a gradient: texture that survives scaling down
    noise = rng.normal(0, 15, (size[1], size[0], 3))
    pixels = np.clip(np.array(colour, dtype=float) + ramp + noise, 0, 255).astype("uint8")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class RecordingVectors(LocalPictureVectors):
    """The real vector store (adapters/vectors/local.py), remembering what it was asked."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.nearest_calls: list[dict[str, Any]] = []

    def nearest(self, kind: str, model: str, values: Sequence[float], k: int = 20,
                min_cosine: float | None = None) -> list[tuple[str, float]]:
        self.nearest_calls.append({"kind": kind, "model": model, "k": k})
        return super().nearest(kind, model, values, k, min_cosine)


@pytest.fixture
def stores(tmp_path: Path):
    """A real embedded index and the vector store beside it."""
    index = SqliteIndex(str(tmp_path / "index.db"))
    index.ensure_ready()
    vectors = RecordingVectors(tmp_path / "vectors.db")
    yield index, vectors
    vectors.close()
    index.close()
