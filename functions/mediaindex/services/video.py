"""Index a video: analyse one frame every `video_interval` seconds and merge what was seen into a timeline.

The pipeline calls `pipeline.video(obj)` for files that sniff as video (see services/indexing.py); bootstrap sets
it to `make_video_indexer(settings, pipeline)`. Only the Analyzer and FaceCollection ports are used, so the local
models and Rekognition both work.

- Sampling and skipping are in media/video.py: a frame every `interval` seconds; a frame nearly identical to the
  last analysed one (32x32 grey mean difference below the threshold) is not analysed, and that sample counts as
  showing what the last analysed one showed.
- Following faces: when the analyzer can find faces alone (the FaceAnalyzer port: the local models), the
  `follow_frames` frames after each analysed sample (0.1 s apart, not past a cut) are searched for faces too;
  faces at the same place are one track, and each track is matched once, on the mean of its embeddings
  (domain/face_tracks.py). A small face the detector misses in the sampled frame is found in the next, and a
  noisy single look does not decide who someone is. Rekognition has no such port: its faces are the sample's.
- Shots: the first frame of each new shot between two regular samples is a sample too (`shots`, on by default;
  MEDIAINDEX_VIDEO_SHOTS=0 turns it off): a shot shorter than the interval, or the last one, is seen. A sample at
  such a time ends the spans of what it no longer shows.
- Timeline: for each person and each label, its segments [start, end) in seconds, and for each face of the
  document the spans it was seen in (`segments.faces`, by face index), so a face named later gets its segments
  without analysing the video again. A sample at t showing a name
  makes [t, t + interval) (clipped to the duration); samples one after the other join into one segment.
- The document gets the image fields (labels with each label's best confidence over the frames, label_names,
  faces: the best face of each known person plus at most MAX_UNNAMED_FACES distinct unnamed ones, people, ...)
  and `video` (duration, size, fps, codec, frame counts, segments).
- Long videos: `analyze_window` processes [start, end) and returns a `Timeline` that `Timeline.merge` joins to
  the previous windows' one; the result equals processing the video in one go. On Lambda the indexer is given a
  clock (`time_left`) and a state store; when time runs short it saves the partial timeline and raises
  `VideoContinued`, and the handler puts the same event back on the queue: the next invocation resumes at the
  saved offset (docs/video.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol, Sequence

from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain import face_vectors
from mediaindex.domain.errors import ConfigurationError, MediaIndexError, MediaTooLarge
from mediaindex.domain.face_tracks import link_faces
from mediaindex.domain.model import Box, Emotion, Face, Instance, Label, Landmark, Pose, Quality
from mediaindex.media.video import (
    DEFAULT_SKIP_THRESHOLD, VideoReader, VideoSource, frame_picture, thumb_from_bytes, thumb_to_bytes,
)
from mediaindex.ports import FaceAnalyzer, StoredObject
from mediaindex.services.indexing import name_faces

log = logging.getLogger(__name__)

# Videos above this size are refused (the pipeline holds the file in memory): 2 GiB fits a 3 GB Lambda.
DEFAULT_MAX_VIDEO_BYTES = 2 * 1024**3
DEFAULT_MAX_VIDEO_SECONDS = 6 * 3600.0
# At most this many unnamed faces go into the document (known people's faces are always kept, one each).
MAX_UNNAMED_FACES = 10
# Two unnamed faces whose vectors reach the match similarity in their space (domain/face_vectors.py) are one
# person seen twice; without embeddings (Rekognition) unnamed faces are only ranked by size.
# Frames after each analysed sample searched for the same faces (FaceAnalyzer only); 0 switches following off.
DEFAULT_FOLLOW_FRAMES = 2
# On a clock (Lambda), frames are analysed in windows of this many samples and the clock is checked between them.
WINDOW_SAMPLES = 20
# Stop and continue in a new invocation when less than this is left, plus twice the slowest window so far.
TIME_MARGIN_SECONDS = 30.0
_EPS = 1e-6


class VideoContinued(MediaIndexError):
    """Not an error: the video is only partly analysed, its state is saved, and the same event must be queued
    again so that the next invocation carries on from `next_start` seconds."""

    def __init__(self, key: str, next_start: float, duration: float) -> None:
        super().__init__(f"video analysed up to {next_start:.0f} s of {duration:.0f} s; continues in a new invocation")
        self.key, self.next_start, self.duration = key, next_start, duration


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
            self._keep_face({**_face_state(face), "seen": [[t, end]]})
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
        return merged

    def to_state(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Timeline":
        return cls(**json.loads(json.dumps(state)))

    # -- the document ------------------------------------------------------------------------------------------------
    def faces(self) -> list[Face]:
        """The distinct faces: each known person's best, then the unnamed ones, in the document's order."""
        named = [self.named_faces[p] for p in sorted(self.named_faces)]
        return [_face_from_state(f) for f in named + self.unnamed_faces]

    def _face_segments(self) -> list[dict[str, Any]]:
        """When each of the document's faces (by its index in `faces`) was seen: what `people rematch` puts on the
        timeline for a face named after the video was indexed."""
        named = [self.named_faces[p] for p in sorted(self.named_faces)]
        rows = [{"face": i, "start": round(start, 3), "end": round(end, 3)}
                for i, face in enumerate(named + self.unnamed_faces) for start, end in face.get("seen") or []]
        return sorted(rows, key=lambda r: (r["start"], r["face"]))

    def to_fields(self) -> dict[str, Any]:
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
            "faces": [docs.face_to_doc(face) for face in faces],
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


def _segment_docs(segments: Segments) -> list[dict[str, Any]]:
    rows = [{"name": n, "start": round(s, 3), "end": round(e, 3)} for n, spans in segments.items() for s, e in spans]
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


# ---- the state store for windows across invocations ------------------------------------------------------------------
class VideoStateStore(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, state: dict[str, Any]) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryStateStore:
    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return json.loads(json.dumps(self.states[key])) if key in self.states else None

    def put(self, key: str, state: dict[str, Any]) -> None:
        self.states[key] = json.loads(json.dumps(state))

    def delete(self, key: str) -> None:
        self.states.pop(key, None)


class DynamoVideoStateStore:
    """One item per video in progress: `pk` (string), `state` (zlib-compressed JSON, a few KB) and `expires_at`
    (the table's TTL attribute, so an abandoned video's state disappears)."""

    def __init__(self, table: str, client: Any = None, ttl_seconds: int = 2 * 24 * 3600) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.table, self.client, self.ttl_seconds = table, client, ttl_seconds

    def get(self, key: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        if not item:
            return None
        return json.loads(zlib.decompress(item["state"]["B"]))

    def put(self, key: str, state: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table, Item={
            "pk": {"S": key},
            "state": {"B": zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 6)},
            "expires_at": {"N": str(int(time.time()) + self.ttl_seconds)},
        })

    def delete(self, key: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"pk": {"S": key}})


# ---- the indexer -----------------------------------------------------------------------------------------------------
class VideoIndexer:
    """`indexer(obj) -> (document fields, paid API calls)`; `analyze_window` for one window of a video."""

    def __init__(
        self,
        pipeline: Any,
        interval: float = 6.0,
        skip_threshold: float = DEFAULT_SKIP_THRESHOLD,
        max_bytes: int = DEFAULT_MAX_VIDEO_BYTES,
        max_pixels: int = 256_000_000,
        state_store: VideoStateStore | None = None,
        time_left: Callable[[], float] | None = None,
        window_samples: int = WINDOW_SAMPLES,
        follow_frames: int = DEFAULT_FOLLOW_FRAMES,
        max_seconds: float = DEFAULT_MAX_VIDEO_SECONDS,
        shots: bool = True,
    ) -> None:
        if not interval or interval <= 0:
            raise ConfigurationError(f"video interval must be a positive number of seconds, not {interval!r}")
        self.pipeline = pipeline
        self.interval = float(interval)
        self.skip_threshold = float(skip_threshold)
        self.max_bytes = int(max_bytes)
        self.max_pixels = max_pixels
        self.state_store = state_store
        # Seconds left in this invocation (Lambda: context.get_remaining_time_in_millis() / 1000); None: no limit.
        self.time_left = time_left
        self.window_samples = max(1, window_samples)
        if follow_frames < 0:
            raise ConfigurationError(f"video follow frames must be 0 or more, not {follow_frames!r}")
        self.follow_frames = int(follow_frames)
        if not max_seconds or max_seconds <= 0:
            raise ConfigurationError(f"MEDIAINDEX_MAX_VIDEO_SECONDS must be a positive number, not {max_seconds!r}")
        self.max_seconds = float(max_seconds)
        self.shots = bool(shots)  # also sample the first frame of each new shot (media/video.py)

    # -- one file ----------------------------------------------------------------------------------------------------
    def __call__(self, obj: StoredObject) -> tuple[dict[str, Any], int]:
        size = obj.size if obj.size is not None else len(obj.data)
        if size > self.max_bytes:
            raise MediaTooLarge(
                f"video is {size:,} bytes, above the limit of {self.max_bytes:,} (MEDIAINDEX_MAX_VIDEO_BYTES)"
            )
        sha = hashlib.sha256(obj.data).hexdigest()
        _current.key = obj.ref.key
        try:
            timeline = self.analyze(obj.data, state_key=self._state_key(sha))
        finally:
            _current.key = None
        faces = timeline.faces()
        fields = timeline.to_fields()
        drop = docs.hidden_face_indexes(fields.get("faces") or [], self.pipeline.hidden_boxes(sha))
        if drop:  # marked "not a face" before: out of the document and never remembered again
            fields.update(docs.without_faces(fields, drop))
            faces = [f for i, f in enumerate(faces) if i not in drop]
        collection = self.pipeline.faces
        if faces and collection is not None:
            collection.remember(sha, faces)  # in the document's order, so known people can be re-matched later
        return fields, timeline.api_calls

    def _check_duration(self, duration: float) -> None:
        # A header may declare anything (838 bytes claiming 347 days): the work is bounded before it starts
        if duration > self.max_seconds:
            raise MediaTooLarge(f"video declares {duration:,.0f} s, above the limit of {self.max_seconds:,.0f} s "
                                "(MEDIAINDEX_MAX_VIDEO_SECONDS)")

    def _state_key(self, sha: str) -> str:
        return (f"video:{sha}:{self.pipeline.analyzer.name}:{self.interval:g}:{self.skip_threshold:g}"
                f":{self.follow_frames}:{int(self.shots)}")

    def analyze(self, source: VideoSource, state_key: str | None = None) -> Timeline:
        """The whole video: in one window without a clock; on a clock, window after window until time runs short
        (then the state is saved under `state_key` and VideoContinued raised)."""
        on_clock = self.time_left is not None and self.state_store is not None and state_key is not None
        if not on_clock:
            return self.analyze_window(source, 0.0, None)
        assert self.state_store is not None and state_key is not None and self.time_left is not None
        with VideoReader(source, self.max_pixels) as reader:
            self._check_duration(reader.info.duration)
            if reader.info.duration <= 0:  # no duration to cut into windows (some MPEG-TS): one pass
                return self.analyze_window(source, 0.0, None)
        saved = self.state_store.get(state_key)
        timeline = Timeline.from_state(saved) if saved else None
        if timeline is not None:
            log.info("video resumes", extra={"state": state_key, "at": timeline.next_start})
        slowest = 0.0
        window = self.window_samples * self.interval
        while True:
            start = timeline.next_start if timeline else 0.0
            if timeline is not None and timeline.duration > 0 and start >= timeline.duration - _EPS:
                break
            began = time.monotonic()
            part = self.analyze_window(source, start, start + window, timeline)
            timeline = part if timeline is None else timeline.merge(part)
            slowest = max(slowest, time.monotonic() - began)
            if timeline.duration <= 0 or timeline.next_start >= timeline.duration - _EPS:
                break
            if self.time_left() < TIME_MARGIN_SECONDS + 2 * slowest:
                self.state_store.put(state_key, timeline.to_state())
                raise VideoContinued(state_key, timeline.next_start, timeline.duration)
        self.state_store.delete(state_key)
        return timeline

    # -- one window --------------------------------------------------------------------------------------------------
    def analyze_window(
        self, source: VideoSource, start: float, end: float | None, previous: Timeline | None = None
    ) -> Timeline:
        """Analyse the samples in [start, end) (end None: to the end). `previous` is the timeline up to `start`:
        its last analysed frame lets the first samples here be skipped when nothing changed."""
        analyzer = self.pipeline.analyzer
        collection = self.pipeline.faces
        identify = collection is not None and not collection.is_empty()
        follow = self.follow_frames if isinstance(analyzer, FaceAnalyzer) else 0
        with VideoReader(source, self.max_pixels) as reader:
            info = reader.info
            self._check_duration(info.duration)
            timeline = Timeline(interval=self.interval, duration=info.duration, start=start, info={
                "width": info.width, "height": info.height, "fps": info.fps, "codec": info.codec,
                "taken_at": info.creation_time, "camera": info.camera, "location": info.location,
            })
            last_thumb = None
            if previous is not None and previous.carry.get("thumb"):
                timeline.carry = dict(previous.carry)
                last_thumb = thumb_from_bytes(base64.b64decode(previous.carry["thumb"]))
            last_frame_time = None
            sample_end = end
            if info.duration <= 0:  # no duration in the header: the frames tell, and may not run on past the limit
                sample_end = self.max_seconds if end is None else min(end, self.max_seconds)
            for sample in reader.samples(self.interval, start, sample_end, self.skip_threshold, last_thumb,
                                         follow=follow, shots=self.shots):
                last_frame_time = sample.frame_time
                timeline.frames_at_shots += sample.shot
                _report(sample.time, info.duration)
                if sample.skipped:
                    timeline.add_skipped(sample.time)
                    continue
                assert sample.image is not None
                picture = frame_picture(sample.image, self.max_pixels)
                analysis = analyzer.analyze(picture)
                pictures = [picture] + [frame_picture(image, self.max_pixels) for image in sample.follow]
                seen = _followed_faces(analyzer, analysis.faces, pictures[1:])
                timeline.frames_followed += len(sample.follow)
                faces = [face for _, face in seen]
                if identify and faces:
                    analysis.api_calls += _identify(collection, pictures, seen)
                timeline.add_analysis(sample.time, analysis.labels, faces, analysis, thumb_to_bytes(sample.thumb))
        if end is not None and (info.duration <= 0 or end < info.duration):
            timeline.next_start = end
        elif info.duration > 0:
            timeline.next_start = max(info.duration, start)
        else:  # the header gave no duration: the video ends with the last frame sampled
            stop = (last_frame_time or 0.0) + (1.0 / info.fps if info.fps else 0.0)
            timeline.next_start = timeline.duration = round(max(stop, start), 3)
            timeline.clip(timeline.duration)
        _report(timeline.next_start, timeline.duration)  # the window is done
        return timeline


def _followed_faces(analyzer: Any, sample_faces: list[Face], following: list[Any]) -> list[tuple[int, Face]]:
    """(frame, face) for each face track over the sample and the pictures that follow it (0: the sample's own)."""
    if not following:
        return [(0, face) for face in sample_faces]
    looks = [sample_faces] + [analyzer.analyze_faces(picture) for picture in following]
    return [track.face() for track in link_faces(looks)]


def _identify(collection: Any, pictures: list[Any], seen: list[tuple[int, Face]]) -> int:
    """Name the faces in place, each matched on the picture of the frame it was seen in; the paid calls."""
    return sum(name_faces(collection, pictures[frame], [face for seen_in, face in seen if seen_in == frame])
               for frame in sorted({frame for frame, _ in seen}))


# How far the video being analysed has got, for a progress bar: (key, seconds of video done, duration or 0). One
# reporter per process (`mediaindex index` sets it in each worker); None: nobody is told.
_progress: Callable[[str, float, float], None] | None = None
_current = threading.local()  # the key of the video this thread analyses


def set_progress_reporter(report: Callable[[str, float, float], None] | None) -> None:
    global _progress
    _progress = report


def _report(done: float, duration: float) -> None:
    report, key = _progress, getattr(_current, "key", None)
    if report is not None and key is not None:
        try:
            report(key, round(done, 3), duration)
        except Exception:  # noqa: BLE001 - a progress bar must never stop the indexing
            log.debug("video progress not reported", exc_info=True)


def make_video_indexer(settings: Settings, pipeline: Any) -> VideoIndexer:
    """The indexer bootstrap installs as `pipeline.video`. On Lambda, the handler sets `indexer.time_left`; the
    state store is the DynamoDB table MEDIAINDEX_VIDEO_STATE_TABLE when set."""
    table = settings.video_state_table
    return VideoIndexer(
        pipeline,
        interval=settings.video_interval,
        skip_threshold=settings.video_skip_threshold,
        max_bytes=settings.max_video_bytes,
        max_pixels=settings.max_pixels,
        state_store=DynamoVideoStateStore(table) if table else None,
        follow_frames=settings.video_follow_frames,
        max_seconds=settings.max_video_seconds,
        shots=settings.video_shots,
    )
