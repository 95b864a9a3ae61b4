"""How alike two face embeddings are, on Rekognition's 0-100 similarity scale (see domain/face_vectors.py)."""

from __future__ import annotations

from typing import Sequence

from mediaindex.domain.face_vectors import DEFAULT, VectorSpace


def embedding_similarity(a: Sequence[float], b: Sequence[float], space: VectorSpace = DEFAULT) -> float:
    """0-100 in `space` (default: SFace, the analyzer's): 80 is the model's measured same-person boundary."""
    return space.compare(a, b)
