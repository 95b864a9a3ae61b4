"""How alike two face embeddings are, on Rekognition's 0-100 similarity scale."""

from __future__ import annotations

import math
from typing import Sequence


def embedding_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """clamp(100 * (1 - L2(a, b) / 3), 0, 100): dlib's usual same-person threshold, L2 0.6, is similarity 80."""
    if len(a) != len(b):
        raise ValueError(f"embeddings of different lengths ({len(a)} and {len(b)})")
    distance = math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
    return min(max(100.0 * (1.0 - distance / 3.0), 0.0), 100.0)
