"""What an analyzer sees in a picture, independent of which analyzer looked.

Every analyzer (Rekognition, the local models) returns an `Analysis`; everything downstream (documents, search,
people) reads only this. Confidences are percentages (0-100) as Rekognition gives them; boxes are ratios of the
image's width and height, as Rekognition gives them, so both analyzers produce the same numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    width: float
    height: float

    def clamp(self) -> "Box":
        left = min(max(self.left, 0.0), 1.0)
        top = min(max(self.top, 0.0), 1.0)
        return Box(left, top, min(max(self.width, 0.0), 1.0 - left), min(max(self.height, 0.0), 1.0 - top))

    def overlap(self, other: "Box") -> float:
        """Intersection over union, 0 (apart) to 1 (the same box)."""
        w = min(self.left + self.width, other.left + other.width) - max(self.left, other.left)
        h = min(self.top + self.height, other.top + other.height) - max(self.top, other.top)
        if w <= 0 or h <= 0:
            return 0.0
        inter = w * h
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0


# A face overlapping a box marked "not a face" this much (intersection over union) is that one found again: the
# same bytes analysed again give nearly the same box, while a neighbour's face hardly overlaps it.
HIDDEN_OVERLAP = 0.5


def is_hidden(box: Box | None, hidden: "list[Box] | tuple[Box, ...]") -> bool:
    """Is a face at `box` one of the `hidden` boxes (marked "not a face")?"""
    return box is not None and any(box.overlap(h) >= HIDDEN_OVERLAP for h in hidden)


@dataclass
class Instance:
    """One occurrence of a label in the picture (a dog among several dogs)."""

    box: Box
    confidence: float


@dataclass
class Label:
    name: str
    confidence: float
    parents: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    broader: list[str] = field(default_factory=list)  # searchable but too general for a facet ("covering")


@dataclass
class Emotion:
    type: str  # upper case, as Rekognition: HAPPY, SAD, ANGRY, CONFUSED, DISGUSTED, SURPRISED, CALM, FEAR
    confidence: float


@dataclass
class Pose:
    roll: float
    yaw: float
    pitch: float


@dataclass
class Quality:
    brightness: float
    sharpness: float


@dataclass
class Landmark:
    type: str
    x: float
    y: float


@dataclass
class Face:
    box: Box
    confidence: float
    age_low: int | None = None
    age_high: int | None = None
    gender: str | None = None  # "Male" / "Female", as Rekognition
    emotions: list[Emotion] = field(default_factory=list)
    smile: bool | None = None
    eyeglasses: bool | None = None
    sunglasses: bool | None = None
    beard: bool | None = None
    mustache: bool | None = None
    eyes_open: bool | None = None
    mouth_open: bool | None = None
    pose: Pose | None = None
    quality: Quality | None = None
    face_occluded: bool | None = None  # something covers part of the face (Rekognition's FaceOccluded)
    eye_direction: dict[str, float] | None = None  # {"yaw": .., "pitch": ..} degrees, where the eyes look
    landmarks: list[Landmark] = field(default_factory=list)
    # A vector for matching faces, when the analyzer computes one (the local analyzer does; Rekognition keeps its
    # vectors inside the collection and never returns them).
    embedding: list[float] | None = None
    # the model (vector space) that made `embedding`: vectors of two models are never compared (domain/face_vectors)
    embedding_space: str | None = None
    # Filled in by face matching: who this is, the matched face's id, and how sure (0-100).
    person: str | None = None
    face_id: str | None = None
    similarity: float | None = None

    def top_emotion(self) -> str | None:
        return max(self.emotions, key=lambda e: e.confidence).type if self.emotions else None


@dataclass
class TextLine:
    text: str
    confidence: float
    box: Box | None = None


@dataclass
class Analysis:
    """Everything one analyzer found in one picture."""

    analyzer: str
    labels: list[Label] = field(default_factory=list)
    faces: list[Face] = field(default_factory=list)
    text: list[TextLine] = field(default_factory=list)
    moderation: float | None = None  # 0-1 likelihood that the picture is not safe for work, when computed
    model_versions: dict[str, str] = field(default_factory=dict)
    # the vector space of the faces' embeddings (domain/face_vectors.py); None when no face model ran
    face_model: str | None = None
    # How many paid API calls this analysis cost (Rekognition); 0 for local models.
    api_calls: int = 0
    # The look-alike vector (domain/look_alikes.py) and the model that made it; the layout (media/layout.py) and
    # sharpness of the picture. None where the analyzer makes none, or the picture is too small or blank for one.
    look: list[float] | None = None
    look_model: str | None = None
    layout: bytes | None = None
    sharpness: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FaceMatch:
    person: str
    face_id: str
    similarity: float
