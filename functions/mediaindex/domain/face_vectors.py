"""Face vectors and how alike two of them are, on Rekognition's 0-100 similarity scale.

Every face vector belongs to the model that made it (its *space*): vectors of two models are never compared, and
each space has its own mapping from distance to similarity, chosen so that the default match threshold, 80, is that
model's measured "same person" boundary. Both mappings are monotone in the squared L2 distance, so the face
collection ranks and thresholds by one matrix product whatever the model.

- `sface`: OpenCV's SFace, unit-length vectors compared by cosine. Similarity = 100 - 20 * (1 - cos) / (1 - c*),
  where c* is the cosine that bench/face_accuracy.py measured as the boundary: c* is similarity 80, cos 1 is 100.
  For unit vectors 1 - cos = d^2 / 2, so similarity = 100 - 10 * d^2 / (1 - c*).
- `dlib`: dlib's ResNet, compared by L2: similarity = 100 * (1 - d / 3), so dlib's usual threshold 0.6 is 80.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence


MATCH_SIMILARITY = 80.0


@dataclass(frozen=True)
class VectorSpace:
    id: str  # stored with every vector: "sface-2021dec-int8bq", "dlib-resnet-v1", or a user file's name and hash
    dimensions: int
    metric: str  # "cosine" (unit vectors) or "l2"
    boundary: float  # cosine: the measured same-person cosine; l2: the distance at which similarity is 0

    def similarity(self, squared_distance: Any) -> Any:
        """0-100 from squared L2 distances (a float or a NumPy array, returned alike)."""
        if isinstance(squared_distance, (int, float)):
            return self._similarity(float(squared_distance))
        try:
            import numpy as np
        except ImportError:  # pragma: no cover - the Lambda bundle has no NumPy and compares no vectors
            return self._similarity(float(squared_distance))
        d2 = np.maximum(np.asarray(squared_distance, dtype=np.float64), 0.0)
        raw = 100.0 - 10.0 * d2 / (1.0 - self.boundary) if self.metric == "cosine" \
            else 100.0 * (1.0 - np.sqrt(d2) / self.boundary)
        return np.clip(raw, 0.0, 100.0)

    def _similarity(self, squared_distance: float) -> float:
        d2 = max(squared_distance, 0.0)
        raw = 100.0 - 10.0 * d2 / (1.0 - self.boundary) if self.metric == "cosine" \
            else 100.0 * (1.0 - math.sqrt(d2) / self.boundary)
        return min(max(raw, 0.0), 100.0)

    def squared_distance_for(self, similarity: float) -> float:
        """The largest squared distance that still reaches `similarity`."""
        if self.metric == "cosine":
            return (100.0 - similarity) * (1.0 - self.boundary) / 10.0
        return (self.boundary * (1.0 - similarity / 100.0)) ** 2

    def compare(self, a: Sequence[float], b: Sequence[float]) -> float:
        if len(a) != len(b):
            raise ValueError(f"face vectors of different lengths ({len(a)} and {len(b)})")
        return self._similarity(float(sum((x - y) ** 2 for x, y in zip(a, b))))


# The cosine that separates the same person from strangers for SFace int8, measured on the test portraits, the
# shrunk faces and the clip (bench/face_accuracy.py; docs/local-models.md has the figures). OpenCV's model zoo
# gives 0.363 for the fp32 model on LFW.
SFACE_BOUNDARY = 0.363
SFACE = VectorSpace("sface-2021dec-int8bq", 128, "cosine", SFACE_BOUNDARY)
DLIB = VectorSpace("dlib-resnet-v1", 128, "l2", 3.0)
DEFAULT = SFACE
KNOWN = {space.id: space for space in (SFACE, DLIB)}


def space_of(space_id: str | None) -> VectorSpace:
    """The space of a stored id; a user's own file keeps its kind in the id's prefix (`sface:`, `dlib:`)."""
    if space_id is None:
        return DLIB  # vectors stored before spaces were recorded are dlib's
    if space_id in KNOWN:
        return KNOWN[space_id]
    kind = space_id.split(":", 1)[0]
    base = SFACE if kind == "sface" else DLIB
    return VectorSpace(space_id, base.dimensions, base.metric, base.boundary)


def document_space(doc: Mapping[str, Any]) -> str | None:
    """The space of a document's face vectors; None when no face model ran on it (Rekognition, labels only).
    Documents from before spaces were recorded name dlib's embedding file in their model versions."""
    if doc.get("face_model"):
        return str(doc["face_model"])
    embedding = (doc.get("model_versions") or {}).get("face_embedding") or ""
    return DLIB.id if "dlib_face_recognition" in embedding else None
