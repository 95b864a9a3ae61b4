"""Search by description on a tiny CLIP model (tests/support/tiny_clip.py) that runs for real: its files, pictures of
one dominant colour with texture, and a fake index that keeps document vectors with the agreed seam
(`nearest_documents`)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest
from PIL import Image

from mediaindex.domain.expressions import Expr, resolve_people
from tests.fakes import FakeIndex
from tests.index import reference
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


class VectorIndex(FakeIndex):
    """The test fake with the index side of document vectors: exact k-NN by cosine over the documents' own
    `vectors[kind]` of that model, among those matching `where` (the reference evaluator both backends agree with)."""

    def __init__(self) -> None:
        super().__init__()
        self.nearest_calls: list[dict[str, Any]] = []

    def nearest_documents(self, kind: str, model: str, vector: Sequence[float], k: int,
                          where: Expr | None = None) -> list[tuple[str, float]]:
        self.nearest_calls.append({"kind": kind, "model": model, "k": k, "where": where})
        resolved = resolve_people(where, self.person_names) if where is not None else None
        found = []
        for doc, _ in list(self.docs.values()):
            stored = (doc.get("vectors") or {}).get(kind)
            if stored is None or stored["model"] != model:
                continue
            if resolved is not None and not reference.matches(resolved, doc):
                continue
            found.append((doc["id"], cosine(vector, stored["values"])))
        found.sort(key=lambda pair: (-pair[1], pair[0]))
        return found[:k]
