"""A video's timeline: what the samples showed and when (people and labels as [start, end) segments, the best
label and face of each, the distinct unnamed faces), built sample by sample, joined window by window, and turned
into the document's fields. Pure data: JSON-serialisable (`to_state`) so a state store can keep it between
invocations. See services/video.py for how samples are taken."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from mediaindex.domain import document as docs
from mediaindex.domain import face_vectors
from mediaindex.domain.model import Box, Emotion, Face, Instance, Label, Landmark, Pose, Quality

# At most this many unnamed faces go into the document (known people's faces are always kept, one each).
# Two unnamed faces whose vectors reach the match similarity in their space (domain/face_vectors.py) are one
# person seen twice; without embeddings (Rekognition) unnamed faces are only ranked by size.
MAX_UNNAMED_FACES = 10
_EPS = 1e-6
EPS = _EPS  # the tolerance on times, in seconds, for the indexer too

# ---- the timeline ----------------------------------------------------------------------------------------------------
Segments = dict[str, list[list[float]]]


def _add_presence(segments: Segments, names: Sequence[str], t: float, end: float) -> None:
    for name in names:
        spans = segments.setdefault(name, [])
        if spans and spans[-1][1] >= t - _EPS:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([t, end])


def _end_absent(segments: Segments, present: Sequence[str], t: float) -> None:
    """A sample at t (a new shot between the regular samples) ends, at t, the spans of whoever it no longer shows."""
    shown = set(present)
    for name, spans in segments.items():
        if name not in shown and spans and spans[-1][1] > t + _EPS and spans[-1][0] < t - _EPS:
            spans[-1][1] = t


MAX_LOOKS = 12


def _spread(looks: list[list[Any]]) -> list[list[Any]]:
    """At most MAX_LOOKS of the samples' looks, in time order, spread evenly over them."""
    looks = sorted(looks, key=lambda look: look[0])
    if len(looks) <= MAX_LOOKS:
        return looks
    step = (len(looks) - 1) / (MAX_LOOKS - 1)
    return [looks[round(i * step)] for i in range(MAX_LOOKS)]


def merge_segments(a: Segments, b: Segments) -> Segments:
    """Both timelines' segments; touching or overlapping ones become one."""
    out: Segments = {}
    for name in {*a, *b}:
        spans = sorted([list(s) for s in a.get(name, [])] + [list(s) for s in b.get(name, [])])
        merged: list[list[float]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1] + _EPS:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        out[name] = merged
    return out


@dataclass
class Timeline:
    """What the samples in [start, next_start) showed. JSON-serialisable (`to_state`) for the state store."""

    interval: float
    duration: float
    start: float = 0.0
    next_start: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)  # width, height, fps, codec, taken_at, camera, location
    frames_sampled: int = 0
    frames_skipped: int = 0
    frames_analysed: int = 0
    frames_followed: int = 0  # frames after the samples searched for faces (see "Following faces")
    frames_at_shots: int = 0  # of frames_sampled, first frames of a new shot between the regular samples
    api_calls: int = 0
    people: Segments = field(default_factory=dict)
    labels: Segments = field(default_factory=dict)
    best_labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> Label as a dict
    named_faces: dict[str, dict[str, Any]] = field(default_factory=dict)  # person -> best Face as a dict
    unnamed_faces: list[dict[str, Any]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    moderation: float | None = None
    analyzer: str | None = None
    model_versions: dict[str, str] = field(default_factory=dict)
    # The last analysed sample: its thumbnail (base64) and what it showed, for a skipped sample in the next window.
    carry: dict[str, Any] = field(default_factory=dict)
    # The samples' look vectors, for look-alikes (domain/look_alikes.py): [time, model, values, layout (base64)],
    # at most MAX_LOOKS spread over the video (a video is compared on several frames, never on its first alone)
    looks: list[list[Any]] = field(default_factory=list)

    # -- building ----------------------------------------------------------------------------------------------------
    def _segment_end(self, t: float) -> float:
        end = t + self.interval
        return min(end, self.duration) if self.duration > 0 else end

    def add_skipped(self, t: float) -> None:
        """A sample nearly identical to the last analysed one: it shows the same people and labels."""
        self.frames_sampled += 1
        self.frames_skipped += 1
        end = self._segment_end(t)
        _end_absent(self.people, self.carry.get("people", []), t)
        _end_absent(self.labels, self.carry.get("labels", []), t)
        _add_presence(self.people, self.carry.get("people", []), t, end)
        _add_presence(self.labels, self.carry.get("labels", []), t, end)

    def add_analysis(self, t: float, labels: Sequence[Label], faces: Sequence[Face], analysis: Any, thumb: bytes) -> None:
        if getattr(analysis, "look", None) and getattr(analysis, "layout", None):
            self.looks = _spread([*self.looks, [round(t, 3), analysis.look_model, analysis.look,
                                                base64.b64encode(analysis.layout).decode("ascii")]])
        self.frames_sampled += 1
        self.frames_analysed += 1
        self.api_calls += analysis.api_calls
        self.analyzer = self.analyzer or analysis.analyzer
        self.model_versions.update(analysis.model_versions or {})
        if analysis.moderation is not None:
            self.moderation = max(self.moderation or 0.0, analysis.moderation)
        for line in analysis.text:
            if line.text and line.text not in self.text:
                self.text.append(line.text)
        for label in labels:
            self._keep_label(asdict(label))
        end = self._segment_end(t)
        for face in faces:
            # when each face was seen: a person named later (people rematch) gets these spans on the timeline
            self._keep_face({**_face_state(face), "seen": [[t, end]], "at": round(t, 3)})
        people = sorted({f.person for f in faces if f.person})
        label_names = list(dict.fromkeys(label.name for label in labels))
        _end_absent(self.people, people, t)
        _end_absent(self.labels, label_names, t)
        _add_presence(self.people, people, t, end)
        _add_presence(self.labels, label_names, t, end)
        self.carry = {"thumb": base64.b64encode(thumb).decode("ascii"), "people": people, "labels": label_names}

    def _keep_label(self, label: dict[str, Any]) -> None:
        known = self.best_labels.get(label["name"])
        if known is None:
            self.best_labels[label["name"]] = label
            return
        best, other = (label, known) if label["confidence"] > known["confidence"] else (known, label)
        for key in ("parents", "categories", "aliases", "broader"):  # one frame may report more of them than another
            best[key] = list(dict.fromkeys([*best.get(key, []), *other.get(key, [])]))
        self.best_labels[label["name"]] = best

    def _keep_face(self, face: dict[str, Any]) -> None:
        person = face.get("person")
        if person:
            known = self.named_faces.get(person)
            if known is not None:
                face["seen"] = known["seen"] = _union(known.get("seen"), face.get("seen"))
            if known is None or _named_rank(face) > _named_rank(known):
                self.named_faces[person] = face
        else:
            self.unnamed_faces = _distinct_unnamed([*self.unnamed_faces, face])

    def clip(self, stop: float) -> None:
        """End every segment by `stop` (once the duration is known only from the frames)."""
        for segments in (self.people, self.labels):
            for spans in segments.values():
                for span in spans:
                    span[1] = min(span[1], stop)

    # -- joining windows ---------------------------------------------------------------------------------------------
    def merge(self, later: "Timeline") -> "Timeline":
        """This timeline followed by `later`, the next window's (which must start where this one stopped)."""
        if abs(later.start - self.next_start) > _EPS or abs(later.interval - self.interval) > _EPS:
            raise ValueError(
                f"cannot join a window starting at {later.start} (interval {later.interval}) to one ending at "
                f"{self.next_start} (interval {self.interval})"
            )
        merged = Timeline.from_state(self.to_state())
        merged.duration = max(self.duration, later.duration)
        merged.next_start = later.next_start
        merged.info = self.info or later.info
        for counter in ("frames_sampled", "frames_skipped", "frames_analysed", "frames_followed", "frames_at_shots",
                        "api_calls"):
            setattr(merged, counter, getattr(self, counter) + getattr(later, counter))
        merged.people = merge_segments(self.people, later.people)
        merged.labels = merge_segments(self.labels, later.labels)
        for label in later.best_labels.values():
            merged._keep_label(json.loads(json.dumps(label)))
        for face in later.named_faces.values():
            merged._keep_face(dict(face))
        merged.unnamed_faces = _distinct_unnamed([*self.unnamed_faces, *later.unnamed_faces])
        merged.text = list(dict.fromkeys([*self.text, *later.text]))
        if later.moderation is not None:
            merged.moderation = max(self.moderation or 0.0, later.moderation)
        merged.analyzer = self.analyzer or later.analyzer
        merged.model_versions = {**self.model_versions, **later.model_versions}
        merged.carry = later.carry or self.carry
        merged.looks = _spread([*self.looks, *later.looks])
        return merged

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(json.dumps(asdict(self)))  # plain JSON types, as a state store keeps them
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Timeline":
        return cls(**json.loads(json.dumps(state)))

    # -- the document ------------------------------------------------------------------------------------------------
    def faces(self) -> list[Face]:
        """The distinct faces: each known person's best, then the unnamed ones, in the document's order."""
        named = [self.named_faces[p] for p in sorted(self.named_faces)]
        return [_face_from_state(f) for f in named + self.unnamed_faces]

    def _face_segments(self) -> list[docs.FaceSpanDoc]:
        """When each of the document's faces (by its index in `faces`) was seen: what `people rematch` puts on the
        timeline for a face named after the video was indexed."""
        named = [self.named_faces[p] for p in sorted(self.named_faces)]
        rows: list[docs.FaceSpanDoc] = [{"face": i, "start": round(start, 3), "end": round(end, 3)}
                for i, face in enumerate(named + self.unnamed_faces) for start, end in face.get("seen") or []]
        return sorted(rows, key=lambda r: (r["start"], r["face"]))

    def _face_docs(self, faces: list[Face]) -> list[docs.FaceDoc]:
        """The faces as the document has them, each with `at`: the time of the frame it was kept from (where the
        gallery crops it)."""
        states = [self.named_faces[p] for p in sorted(self.named_faces)] + self.unnamed_faces
        out = []
        for face, state in zip(faces, states):
            doc = docs.face_to_doc(face)
            if state.get("at") is not None:
                doc["at"] = float(state["at"])
            out.append(doc)
        return out

    def to_fields(self) -> docs.DocumentFields:
        labels = sorted((_label_from_state(d) for d in self.best_labels.values()), key=lambda l: (-l.confidence, l.name))
        faces = self.faces()
        duration = self.duration if self.duration > 0 else self.next_start
        return {
            "width": self.info.get("width"),
            "height": self.info.get("height"),
            "taken_at": self.info.get("taken_at"),
            "camera": self.info.get("camera"),
            "location": self.info.get("location"),
            "labels": [docs.label_to_doc(label) for label in labels],
            "label_names": docs.label_names(labels),
            "faces": self._face_docs(faces),
            "face_count": len(faces),
            "people": sorted(self.people),
            "text": " ".join(self.text) or None,
            "moderation": self.moderation,
            "analyzer": self.analyzer,
            "model_versions": self.model_versions,
            # the space of the faces' vectors, as an image's document says it (None: no face had a vector)
            "face_model": next((f.embedding_space for f in faces if f.embedding_space), None),
            "video": {
                "duration": round(duration, 3),
                "width": self.info.get("width"),
                "height": self.info.get("height"),
                "fps": self.info.get("fps"),
                "codec": self.info.get("codec"),
                "frames_sampled": self.frames_sampled,
                "frames_skipped": self.frames_skipped,
                "frames_analysed": self.frames_analysed,
                "frames_followed": self.frames_followed,
                "frames_at_shots": self.frames_at_shots,
                "segments": {"people": _segment_docs(self.people), "labels": _segment_docs(self.labels),
                             "faces": self._face_segments()},
            },
        }


def _segment_docs(segments: Segments) -> list[docs.SpanDoc]:
    rows: list[docs.SpanDoc] = [{"name": n, "start": round(s, 3), "end": round(e, 3)} for n, spans in segments.items() for s, e in spans]
    return sorted(rows, key=lambda r: (r["start"], r["name"]))


def _named_rank(face: dict[str, Any]) -> tuple[float, float]:
    return (face.get("similarity") or 0.0, face.get("confidence") or 0.0)


def _area(face: dict[str, Any]) -> float:
    box = face.get("box") or {}
    return float(box.get("width", 0.0)) * float(box.get("height", 0.0))


def _distinct_unnamed(faces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Largest first; a face whose vector matches one kept (same space, at the match similarity) is the same
    person."""
    kept: list[dict[str, Any]] = []
    for face in sorted(faces, key=lambda f: (-_area(f), -(f.get("confidence") or 0.0))):
        same = face.get("embedding") is not None and next((k for k in kept if _same_person(face, k)), None)
        if same:
            same["seen"] = _union(same.get("seen"), face.get("seen"))  # the same person, seen at another time
            continue
        kept.append(face)
        if len(kept) >= MAX_UNNAMED_FACES:
            break
    return kept


def _same_person(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if b.get("embedding") is None or a.get("embedding_space") != b.get("embedding_space"):
        return False  # vectors of two models are never compared
    space = face_vectors.space_of(a.get("embedding_space") or face_vectors.DEFAULT.id)
    return space.compare(a["embedding"], b["embedding"]) >= face_vectors.MATCH_SIMILARITY


def _union(a: list[list[float]] | None, b: list[list[float]] | None) -> list[list[float]]:
    """Two lists of [start, end) spans as one, sorted, touching spans joined."""
    return merge_segments({"": a or []}, {"": b or []}).get("", [])


def _face_state(face: Face) -> dict[str, Any]:
    d = asdict(face)
    d.pop("landmarks", None)  # not in documents; keeps the saved state small
    return d


def _face_from_state(d: dict[str, Any]) -> Face:
    d = dict(d)
    d.pop("seen", None)  # on the timeline (segments.faces), not in the face
    d.pop("at", None)  # the time of the frame the face was kept from: the document's face says it
    d["box"] = Box(**d["box"])
    d["emotions"] = [Emotion(**e) for e in d.get("emotions") or []]
    d["pose"] = Pose(**d["pose"]) if d.get("pose") else None
    d["quality"] = Quality(**d["quality"]) if d.get("quality") else None
    d["landmarks"] = [Landmark(**m) for m in d.get("landmarks") or []]
    return Face(**d)


def _label_from_state(d: dict[str, Any]) -> Label:
    d = dict(d)
    d["instances"] = [Instance(Box(**i["box"]), i["confidence"]) for i in d.get("instances") or []]
    return Label(**d)
