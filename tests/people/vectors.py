"""Synthetic face vectors shaped like dlib's (128 numbers, same person about 0.3 apart, strangers about 1.4)."""

from __future__ import annotations

import numpy as np


def person(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128)
    return v / np.linalg.norm(v)


def photo_of(base: np.ndarray, seed: int, spread: float = 0.3) -> list[float]:
    noise = np.random.default_rng(10_000 + seed).normal(size=128)
    return list(base + spread * noise / np.linalg.norm(noise))
