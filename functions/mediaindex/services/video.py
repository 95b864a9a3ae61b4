"""Index a video: analyse one frame every `video_interval` seconds and merge what was seen into a timeline.

The pipeline calls `pipeline.video(obj)` for files that sniff as video (see services/indexing.py); bootstrap builds
it with `make_video_indexer(settings, analyzer, faces)` and hands it to the pipeline. Only the Analyzer and
FaceCollection ports are used, so the local models and Rekognition both work.

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
- Decoding runs ahead: a thread of its own decodes the next samples (READ_AHEAD of them) while the analyzer works
  on this one, so the decoder's single-threaded stretches (seeking, key frames, thumbnails) overlap the models.
- Long videos: `analyze_window` processes [start, end) and returns a `Timeline` that `Timeline.merge` joins to
  the previous windows' one; the result equals processing the video in one go. On Lambda the indexer is given a
  clock (`time_left`) and a state store; when time runs short it saves the partial timeline and raises
  `VideoContinued`, and the handler puts the same event back on the queue: the next invocation resumes at the
  saved offset (docs/video.md).
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.document import DocumentFields
from mediaindex.domain.errors import ConfigurationError, MediaIndexError, MediaTooLarge
from mediaindex.domain.face_tracks import link_faces
from mediaindex.domain.model import Analysis, Face
from mediaindex.domain.video_timeline import EPS as _EPS
from mediaindex.domain.video_timeline import Timeline
from mediaindex.media.video import (
    DEFAULT_SKIP_THRESHOLD, LOCAL_FRAME_SIDE, MAX_FRAME_SIDE, SampledFrame, VideoReader, VideoSource, frame_picture,
    thumb_from_bytes, thumb_to_bytes,
)
from mediaindex.ports import Analyzer, FaceAnalyzer, FaceCollection, StoredObject, VideoStateStore
from mediaindex.services.indexing import name_faces

log = logging.getLogger(__name__)

# Videos above this size are refused. Storage keeps a large file in a file (the folder's own, or a temporary copy of
# an S3 object), never in memory; the limit bounds that copy and the work.
DEFAULT_MAX_VIDEO_BYTES = 2 * 1024**3
DEFAULT_MAX_VIDEO_SECONDS = 6 * 3600.0
# Frames after each analysed sample searched for the same faces (FaceAnalyzer only); 0 switches following off.
DEFAULT_FOLLOW_FRAMES = 2
# On a clock (Lambda), frames are analysed in windows of this many samples and the clock is checked between them.
WINDOW_SAMPLES = 20
# Stop and continue in a new invocation when less than this is left, plus twice the slowest window so far.
TIME_MARGIN_SECONDS = 30.0
# Samples decoded ahead of the one being analysed (each holds its frame and the following ones at 1,280 px).
READ_AHEAD = 2

T = TypeVar("T")


class VideoContinued(MediaIndexError):
    """Not an error: the video is only partly analysed, its state is saved, and the same event must be queued
    again so that the next invocation carries on from `next_start` seconds."""

    def __init__(self, key: str, next_start: float, duration: float) -> None:
        super().__init__(f"video analysed up to {next_start:.0f} s of {duration:.0f} s; continues in a new invocation")
        self.key, self.next_start, self.duration = key, next_start, duration


# ---- the state store for windows across invocations ------------------------------------------------------------------
class MemoryStateStore:
    """The VideoStateStore port in memory (tests, and a single process that resumes its own videos)."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return json.loads(json.dumps(self.states[key])) if key in self.states else None

    def put(self, key: str, state: dict[str, Any]) -> None:
        self.states[key] = json.loads(json.dumps(state))

    def delete(self, key: str) -> None:
        self.states.pop(key, None)


# ---- the indexer -----------------------------------------------------------------------------------------------------
class VideoIndexer:
    """`indexer(obj) -> (document fields, paid API calls)`; `analyze_window` for one window of a video."""

    def __init__(
        self,
        analyzer: Analyzer,
        faces: FaceCollection | None = None,  # the known people, to name the faces seen
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
        self.analyzer, self.faces = analyzer, faces
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
    def __call__(self, obj: StoredObject) -> tuple[DocumentFields, int]:
        if obj.size > self.max_bytes:
            raise MediaTooLarge(
                f"video is {obj.size:,} bytes, above the limit of {self.max_bytes:,} (MEDIAINDEX_MAX_VIDEO_BYTES)"
            )
        sha = obj.sha256  # hashed as it was read
        _current.key = obj.ref.key
        try:
            # the decoder reads the file storage kept (or the bytes in memory, for a small one): never a copy
            timeline = self.analyze(obj.open(), state_key=self._state_key(sha))
        finally:
            _current.key = None
        faces = timeline.faces()
        fields = timeline.to_fields()
        collection = self.faces
        hidden = collection.hidden_boxes(sha) if collection is not None else []
        drop = docs.hidden_face_indexes(fields.get("faces") or [], hidden)
        if drop:  # marked "not a face" before: out of the document and never remembered again
            fields.update(docs.without_faces(fields, drop))
            faces = [f for i, f in enumerate(faces) if i not in drop]
        if faces and collection is not None:
            collection.remember(sha, faces)  # in the document's order, so known people can be re-matched later
        # the frames' look vectors, for the pipeline to keep by content: (model, values, part, layout)
        fields["looks"] = [(model, values, part, base64.b64decode(layout))  # type: ignore[typeddict-unknown-key]
                           for part, (_, model, values, layout) in enumerate(timeline.looks)]
        return fields, timeline.api_calls

    def _check_duration(self, duration: float) -> None:
        # A header may declare anything (838 bytes claiming 347 days): the work is bounded before it starts
        if duration > self.max_seconds:
            raise MediaTooLarge(f"video declares {duration:,.0f} s, above the limit of {self.max_seconds:,.0f} s "
                                "(MEDIAINDEX_MAX_VIDEO_SECONDS)")

    def _state_key(self, sha: str) -> str:
        return (f"video:{sha}:{self.analyzer.name}:{self.interval:g}:{self.skip_threshold:g}"
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
        analyzer = self.analyzer
        collection = self.faces
        identify = collection is not None and not collection.is_empty()
        follow = self.follow_frames if isinstance(analyzer, FaceAnalyzer) else 0
        # the local models (the FaceAnalyzer port) read 1280 px at most: frames are converted at that size
        side = LOCAL_FRAME_SIDE if isinstance(analyzer, FaceAnalyzer) else MAX_FRAME_SIDE
        with VideoReader(source, self.max_pixels, frame_side=side) as reader:
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
            sample_end = end
            if info.duration <= 0:  # no duration in the header: the frames tell, and may not run on past the limit
                sample_end = self.max_seconds if end is None else min(end, self.max_seconds)
            samples = ReadAhead(reader.samples(self.interval, start, sample_end, self.skip_threshold, last_thumb,
                                               follow=follow, shots=self.shots), READ_AHEAD)
            with samples:  # the decoding thread is stopped before the reader closes
                last_frame_time = self._analyze_samples(samples, timeline, info.duration, identify)
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

    def _analyze_samples(self, samples: Iterable[SampledFrame], timeline: Timeline, duration: float,
                         identify: bool) -> float | None:
        """Analyse each sample into `timeline`; when the last frame sampled is shown (None: no sample)."""
        analyzer, collection = self.analyzer, self.faces
        last_frame_time = None
        for sample in samples:
            last_frame_time = sample.frame_time
            timeline.frames_at_shots += sample.shot
            _report(sample.time, duration)
            if sample.skipped:
                timeline.add_skipped(sample.time)
                continue
            assert sample.image is not None
            picture = frame_picture(sample.image, self.max_pixels)
            analysis = analyzer.analyze(picture)
            pictures = [picture] + [frame_picture(image, self.max_pixels) for image in sample.follow]
            seen = _followed_faces(analyzer, analysis, pictures[1:])
            timeline.frames_followed += len(sample.follow)
            faces = [face for _, face in seen]
            if identify and faces:
                analysis.api_calls += _identify(collection, pictures, seen)
            timeline.add_analysis(sample.time, analysis.labels, faces, analysis, thumb_to_bytes(sample.thumb))
        return last_frame_time


class ReadAhead(Generic[T]):
    """Iterate `items` in a thread of its own, up to `depth` items ahead of the caller: the video's next samples are
    decoded while this one is analysed. What the iterator raises is raised to the caller, in order. Use as a
    context manager: leaving it stops the thread (and closes the iterator, in that thread) even when the caller
    stops early."""

    _ITEM, _END, _ERROR = range(3)

    def __init__(self, items: Iterator[T], depth: int = READ_AHEAD) -> None:
        self._items = items
        self._queue: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="video-read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put((self._ITEM, item)):
                    return
            self._put((self._END, None))
        except BaseException as e:  # noqa: BLE001 - handed to the caller, which raises it
            self._put((self._ERROR, e))
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()  # a generator is closed in the thread that runs it

    def _put(self, entry: tuple[int, Any]) -> bool:
        """Queue `entry` once there is room; False when the caller has stopped listening."""
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)  # wakes to see whether the caller stopped
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        while True:
            kind, value = self._queue.get()
            if kind == self._ITEM:
                yield value
            elif kind == self._END:
                return
            else:
                raise value

    def __enter__(self) -> "ReadAhead[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while True:  # make room, so a thread waiting to put sees the stop
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join()


def _followed_faces(analyzer: Any, sample: Analysis, following: list[Any]) -> list[tuple[int, Face]]:
    """(frame, face) for each face track over the sample and the pictures that follow it (0: the sample's own);
    the sample's analysis goes with each picture: what the shot shows besides faces (an animal, say)."""
    if not following:
        return [(0, face) for face in sample.faces]
    looks = [sample.faces] + [analyzer.analyze_faces(picture, sample) for picture in following]
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


def make_video_indexer(settings: Settings, analyzer: Analyzer, faces: FaceCollection | None = None,
                       state_store: VideoStateStore | None = None) -> VideoIndexer:
    """The indexer bootstrap hands the pipeline as its `video`. On Lambda, the handler sets `indexer.time_left`;
    the state store (bootstrap gives the DynamoDB table MEDIAINDEX_VIDEO_STATE_TABLE when set) lets a long video go
    on in the next invocation."""
    return VideoIndexer(
        analyzer,
        faces,
        interval=settings.video_interval,
        skip_threshold=settings.video_skip_threshold,
        max_bytes=settings.max_video_bytes,
        max_pixels=settings.max_pixels,
        state_store=state_store,
        follow_frames=settings.video_follow_frames,
        max_seconds=settings.max_video_seconds,
        shots=settings.video_shots,
    )
