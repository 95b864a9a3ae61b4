"""Face vectors in memory: checked and normalised as their space wants, and kept in a growable float32 matrix so
that the distances from many queries to every vector are one matrix product."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.face_vectors import VectorSpace
from mediaindex.domain.model import Box

DIMENSIONS = 128  # SFace's and dlib's face embeddings alike

# One face vector as it reaches us: a face's list of floats, or a row read back from a file as a NumPy array.
Embedding = Sequence[float] | np.ndarray


def as_vector(embedding: Embedding, space: VectorSpace) -> np.ndarray:
    v = np.asarray(embedding, dtype=np.float32).reshape(-1)
    if v.shape[0] != space.dimensions:
        raise ConfigurationError(
            f"a face vector of {v.shape[0]} numbers: {space.id} vectors have {space.dimensions}"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError("a face vector with a NaN or infinite number")
    if space.metric == "cosine":  # compared as unit vectors (a video track's mean is shorter than its members)
        v = v / max(float(np.linalg.norm(v)), 1e-12)
    return v


class VectorMatrix:
    """A growable float32 matrix of vectors with their squared norms, for distances by one matrix product."""

    def __init__(self, capacity: int = 1024) -> None:
        self.data = np.empty((capacity, DIMENSIONS), dtype=np.float32)
        self.norms = np.empty(capacity, dtype=np.float32)
        self.size = 0

    def extend(self, vectors: np.ndarray) -> None:
        needed = self.size + len(vectors)
        if needed > len(self.data):
            capacity = max(needed, 2 * len(self.data))
            data = np.empty((capacity, DIMENSIONS), dtype=np.float32)
            norms = np.empty(capacity, dtype=np.float32)
            data[: self.size], norms[: self.size] = self.data[: self.size], self.norms[: self.size]
            self.data, self.norms = data, norms
        self.data[self.size:needed] = vectors
        self.norms[self.size:needed] = np.einsum("ij,ij->i", vectors, vectors)
        self.size = needed

    def squared_distances(self, queries: np.ndarray) -> np.ndarray:
        """Squared L2 distances, shape (len(queries), size); callers take square roots of the few they keep."""
        if self.size == 0:
            return np.empty((len(queries), 0), dtype=np.float32)
        q = np.asarray(queries, dtype=np.float32)
        squared = q @ self.data[: self.size].T
        squared *= -2.0
        squared += self.norms[: self.size][None, :]
        squared += np.einsum("ij,ij->i", q, q)[:, None]
        return squared

    def distances(self, queries: np.ndarray) -> np.ndarray:
        return np.sqrt(np.maximum(self.squared_distances(queries), 0.0))


def box_json(box: Box) -> dict[str, float]:
    return {"left": box.left, "top": box.top, "width": box.width, "height": box.height}
