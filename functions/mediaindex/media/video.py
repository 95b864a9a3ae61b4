"""Read a video once and hand out one frame every N seconds, skipping frames nearly identical to the last kept one.

Decoding is PyAV (`av`), whose wheels carry FFmpeg: the same code runs on a laptop and in a Lambda bundle. Any
container and codec FFmpeg reads works (mp4, mov, mkv, webm, avi, mpeg-ts; H.264, HEVC, VP8/9, AV1, MPEG-4, ...).

Sampling: sample k is taken at `k * interval` seconds from the first video frame (not the container's start,
which may include audio priming); its frame is the first frame shown at or after that time. Sample times, not
frame times, are reported, so samples of one video are always exactly `interval` apart.

Skipping: each sampled frame is shrunk to a 32x32 grey thumbnail (from its luma plane, under a millisecond: _thumb);
when the mean absolute difference to the thumbnail of the last *kept* frame is below `skip_threshold` (on the
0-255 scale; default 2.0, i.e. 0.8 % of full scale) the frame is marked skipped: the scene has not changed, so
analysing it again would only repeat the last analysis. Measured on a real clip: compression noise and a still
scene give 0.3-2, a speaker gesturing far away 3-4, a cut to another shot 10-30.

Shots: with `shots=True`, the first frame of each new shot is a sample too (a jump of more than SHOT_DIFFERENCE
between two decoded frames in a row, at least MIN_SHOT_SECONDS after the last sample; a shot that starts sooner is
sampled that long after it; at most MAX_SHOT_SAMPLES_PER_INTERVAL between two regular samples), so a shot shorter
than the interval, or the last one, is analysed, not missed between two samples. What is decoded for that is chosen
per group of pictures (the frames from one key frame to the next; the packets' key flags are read first, which
costs no decoding): where key frames are at most KEYFRAME_SHOT_GAP apart (phones write one a second), only the key
frames are decoded (FFmpeg's skip_frame=NONKEY), except from the key frame before a sample to the sample and the
frames that follow it. A key frame that looks different from the last frame decoded before it (KEY_CUT_CANDIDATE)
sends the reader back to decode the skipped frames after all, so a cut is found frame by frame where it is; a shot
that begins and ends between two key frames and leaves the next key frame looking like the last decoded frame is
not seen. Where key frames are further apart, and in MPEG-TS and AVI, every frame is decoded and compared with the
one before, as with no key frames at all.

Frames are converted to RGB at the size the analysis reads (`frame_side` on the long side: FFmpeg's scaler does
both at once), never at the full 1080p or 4K size.

Following: with `follow=n`, each analysed sample also carries the n frames shown `follow_step` seconds apart
after it (up to a cut), so that faces can be followed over a few frames: a detector that misses a small face in
one frame often finds it in the next, and a face seen several times is recognised more surely than once.
"""

from __future__ import annotations

import bisect
import io
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from PIL import Image, ImageChops, ImageStat

from mediaindex.domain.errors import CorruptMedia, EmptyFile, MediaTooLarge, UnsupportedMedia
from mediaindex.media import video_tags
from mediaindex.media.picture import DEFAULT_MAX_PIXELS, Picture

DEFAULT_SKIP_THRESHOLD = 2.0
THUMB_SIDE = 32
# Frames larger than this (long side, pixels) are shrunk before analysis: faces and objects in a 4K frame are
# still large at 1920 pixels, and both analyzers work on smaller images anyway (Rekognition's 5 MB byte limit).
MAX_FRAME_SIDE = 1920
# The local models read at most 1280 pixels (their working size): frames for them are converted at that size.
LOCAL_FRAME_SIDE = 1280
# Jump ahead with a seek instead of decoding every frame when the next sample is further away than this.
SEEK_GAP_SECONDS = 4.0
# Shots are found on key frames alone in a group of pictures no longer than this (seconds from one key frame to the
# next); longer groups are decoded frame by frame. Phones write a key frame every 1-2 s; the test clip every 2 s.
KEYFRAME_SHOT_GAP = 2.5
# After the last frame a sample (or the frames that follow it) needs, decoding goes on this many frames before the
# rest of the group is skipped: frames are stored out of display order (B-frames), up to a few frames ahead.
REORDER_MARGIN_FRAMES = 8
# A key frame this different (thumbnail difference) from the last frame decoded before it, with frames skipped in
# between, may follow a cut: the skipped frames are decoded after all, and the cut found frame by frame. The same
# as CUT_DIFFERENCE: motion within a shot over a second reaches 10-21 on the test clip, cuts 18-31.
KEY_CUT_CANDIDATE = 12.0
# Containers with an index to seek by (MP4/MOV, Matroska/WebM): key frames are used for shots in them only; in
# MPEG-TS (no index) and AVI every frame is decoded.
KEYFRAME_CONTAINERS = ("mov", "matroska")
# A file whose frames stop this long before the duration its header declares is truncated.
TRUNCATION_SLACK_SECONDS = 1.0
# Frames that follow a sample are this far apart: 3 frames at 30 fps, far enough apart to be different looks.
FOLLOW_STEP_SECONDS = 0.1
# Two frames in a row this different (thumbnail difference, 0-255) are a cut to another shot: following stops
# there. Measured on a real clip: a cut 25, a gesturing close-up 4-6 from one frame to the next (14 over 0.1 s).
CUT_DIFFERENCE = 12.0
# A jump this large between two frames in a row starts a new shot, which gets a sample of its own (shots=True).
# Measured on the test clip: its three cuts 25-29; camera motion and gestures 8-12 over several frames.
SHOT_DIFFERENCE = 20.0
# ... but not closer than this to the sample before,
MIN_SHOT_SECONDS = 1.0
# ... and at most this many between two regular samples: a fast-cut video costs at most twice the regular samples
# (20 a minute at the default 6 s), the bound docs/deploy.md prices, not one analysis a second.
MAX_SHOT_SAMPLES_PER_INTERVAL = 1

VideoSource = bytes | bytearray | memoryview | str | Path | BinaryIO


def _av() -> Any:
    try:
        import av
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise UnsupportedMedia("video file, but the video decoder (PyAV, package `av`) is not installed") from None
    return av


@dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds of video (the video stream's, else the container's)
    width: int  # as displayed (after the rotation a phone records)
    height: int
    fps: float | None
    codec: str
    container: str
    rotation: int = 0  # degrees the frames must be turned to display upright
    creation_time: str | None = None  # ISO 8601, from the container's tags
    location: dict[str, float] | None = None  # {"lat", "lon"} from an ISO 6709 tag (phones write one)
    camera: str | None = None


@dataclass
class SampledFrame:
    index: int  # k: this sample is at k * interval
    time: float  # k * interval, seconds from the first frame
    frame_time: float  # when the frame used for it is shown
    thumb: Image.Image  # 32x32 grey, for the difference test
    difference: float | None  # to the last kept frame's thumbnail; None for the first
    skipped: bool
    image: Image.Image | None  # upright RGB; None when skipped (not converted at all)
    follow: list[Image.Image] = field(default_factory=list)  # the frames after it (samples(follow=n)), upright RGB
    follow_times: list[float] = field(default_factory=list)  # when each of them is shown
    shot: bool = False  # the first frame of a new shot, between the regular samples (its `time` is the frame's)


def thumb_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two grey thumbnails, 0-255."""
    return float(ImageStat.Stat(ImageChops.difference(a, b)).mean[0])


def thumb_to_bytes(thumb: Image.Image) -> bytes:
    return thumb.tobytes()


def thumb_from_bytes(raw: bytes) -> Image.Image:
    return Image.frombytes("L", (THUMB_SIDE, THUMB_SIDE), raw)


class FramePicture(Picture):
    """A `Picture` of a decoded frame: the frame itself is `picture.image` for analyzers that read pixels (no
    second decode, no JPEG loss); its JPEG bytes (`data`, for analyzers that send bytes: Rekognition) are encoded
    the first time they are read, so the local models never pay for an encoding they do not use."""

    def __init__(self, image: Image.Image, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        if image.width * image.height > max_pixels:
            raise MediaTooLarge(f"video frame is {image.width}x{image.height}, above the limit of {max_pixels:,} pixels")
        self._jpeg: bytes | None = None
        super().__init__(b"", "jpeg", max_pixels, video_frame=True)
        self.__dict__["image"] = image  # primes the cached_property `image`

    @property
    def data(self) -> bytes:
        if not self._jpeg:
            buf = io.BytesIO()
            self.__dict__["image"].save(buf, "JPEG", quality=90)
            self._jpeg = buf.getvalue()
        return self._jpeg

    @data.setter
    def data(self, value: bytes) -> None:
        self._jpeg = value or None

    def _open(self) -> Image.Image:
        if self._opened is None:
            self._opened = self.__dict__["image"]
        return self._opened


def frame_picture(image: Image.Image, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """A `Picture` of a decoded frame (FramePicture)."""
    return FramePicture(image, max_pixels)


def sample_times(interval: float, start: float, end: float) -> list[float]:
    """The sample times k * interval in [start, end)."""
    if interval <= 0:
        raise ValueError("interval must be positive")
    first = math.ceil(start / interval - 1e-9)
    times = []
    k = first
    while k * interval < end - 1e-9:
        times.append(k * interval)
        k += 1
    return times


class VideoReader:
    """An open video. Use as a context manager; `info` is read on opening, frames are decoded on demand."""

    def __init__(self, source: VideoSource, max_pixels: int = DEFAULT_MAX_PIXELS,
                 frame_side: int = MAX_FRAME_SIDE) -> None:
        av = _av()
        self._av = av
        self.frame_side = frame_side  # frames handed out are at most this long on their long side
        self._keyframes: list[float] | None = None  # key frame times (from the first frame), once scanned
        self._plan: dict[str, float] | None = None  # what the decoder must not skip: see _packet_plan
        self.frames_decoded = 0
        self._skipped: list[float] = []  # times of the packets skipped and not yet passed by a decoded frame
        self._follow_span = 0.0
        self._rewind: float | None = None  # a shot sample's time, whose following frames must be decoded again
        if isinstance(source, (bytes, bytearray, memoryview)):
            if not len(source):
                raise EmptyFile("the file is empty (0 bytes)")
            # a BytesIO of a bytes object shares its buffer (no copy); other buffers are copied once
            source = io.BytesIO(source if isinstance(source, bytes) else bytes(source))
        elif isinstance(source, (str, Path)):
            if Path(source).stat().st_size == 0:
                raise EmptyFile("the file is empty (0 bytes)")
        else:  # a file (storage's own, or a temporary copy): read from its start, however often it is opened
            if source.seek(0, io.SEEK_END) == 0:
                raise EmptyFile("the file is empty (0 bytes)")
            source.seek(0)
        try:
            self._container = av.open(source if not isinstance(source, Path) else str(source), mode="r")
        except av.FFmpegError as e:
            raise CorruptMedia(f"not a readable video container: {_reason(e)}") from None
        except (ValueError, OSError, EOFError) as e:
            raise CorruptMedia(f"not a readable video container: {e}") from None
        try:
            self.info, self._stream = self._read_info(max_pixels)
        except Exception:
            self._container.close()
            raise

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def _read_info(self, max_pixels: int) -> tuple[VideoInfo, Any]:
        c = self._container
        if not c.streams.video:
            raise UnsupportedMedia("the file has no video stream (audio only?)")
        stream = c.streams.video[0]
        ctx = stream.codec_context
        if ctx is None or not ctx.name:
            raise UnsupportedMedia("the video codec is not one this decoder reads")
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width <= 0 or height <= 0:
            raise CorruptMedia(f"the video stream has no frame size ({width}x{height})")
        if width * height > max_pixels:
            raise MediaTooLarge(f"video frames are {width}x{height}, above the limit of {max_pixels:,} pixels")
        stream.thread_type = "AUTO"  # frame + slice threads: decoding is most of the cost of sparse sampling
        tb = stream.time_base
        self._start = float(stream.start_time * tb) if stream.start_time is not None and tb else None
        duration = float(stream.duration * tb) if stream.duration and tb else 0.0
        if duration <= 0 and c.duration:
            duration = max(0.0, c.duration / 1_000_000 - (c.start_time or 0) / 1_000_000)
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        # Decode the first frame now: a file with no decodable frame fails here, and the frame tells the rotation.
        self._stream = stream
        self._decoder = self._decode_packets()
        try:
            self._peeked = next(self._decoder)
        except StopIteration:
            raise CorruptMedia("no video frame could be decoded (the file is truncated or damaged)") from None
        except self._av.FFmpegError as e:
            raise CorruptMedia(f"no video frame could be decoded: {_reason(e)}") from None
        rotation = int(getattr(self._peeked, "rotation", 0) or 0) % 360
        if rotation % 180:
            width, height = height, width
        tags = {k.lower(): v for k, v in {**(c.metadata or {}), **(stream.metadata or {})}.items()}
        info = VideoInfo(
            duration=round(duration, 3), width=width, height=height, fps=round(fps, 3) if fps else None,
            codec=ctx.name, container=c.format.name.split(",")[0], rotation=rotation,
            creation_time=video_tags.creation_time(tags.get("creation_time")),
            location=video_tags.iso6709_location(tags.get("location") or tags.get("com.apple.quicktime.location.iso6709")),
            camera=video_tags.camera(tags),
        )
        return info, stream

    # ---- frames --------------------------------------------------------------------------------------------------
    def samples(
        self,
        interval: float,
        start: float = 0.0,
        end: float | None = None,
        skip_threshold: float = DEFAULT_SKIP_THRESHOLD,
        last_thumb: Image.Image | None = None,
        follow: int = 0,
        follow_step: float = FOLLOW_STEP_SECONDS,
        shots: bool = False,
    ) -> Iterator[SampledFrame]:
        """One frame per sample time in [start, end) (end: the duration), and with `shots` also the first frame
        of each new shot in between. `last_thumb` is the thumbnail of the frame kept last before `start` (from
        an earlier window), so skipping works across windows too. Each analysed (not skipped) sample carries up
        to `follow` later frames, `follow_step` seconds apart, none past a cut. Call it once per reader."""
        duration = self.info.duration
        if duration > 0:
            times: list[float] | None = sample_times(interval, start, duration if end is None else min(end, duration))
        else:  # no duration in the header: sample until the frames end
            times = None if end is None else sample_times(interval, start, end)
        kept = last_thumb
        k = math.ceil(start / interval - 1e-9)
        tolerance = 0.5 / (self.info.fps or 25.0)
        pending: SampledFrame | None = None  # yielded once its following frames are in
        following, next_follow = False, 0.0
        previous: Image.Image | None = None  # the thumbnail of the frame before, while following: cuts show as jumps
        span = follow * follow_step + tolerance if follow > 0 else 0.0
        self._follow_span = span
        stop = end if end is not None else math.inf
        last_frame: Image.Image | None = None  # the thumbnail of the frame before (shots: every frame is looked at)
        last_sample = -math.inf
        shot_due = False
        shots_since_regular = 0  # shot samples since the last regular one: capped per interval
        if shots and (times is None or times) and self._scan_keyframes(
                times[0] if times else start, end if end is not None else math.inf):
            fps = self.info.fps or 25.0
            margin = REORDER_MARGIN_FRAMES if self._stream.codec_context.has_b_frames else 1
            self._plan = {"interval": interval, "first": (times[0] if times else k * interval) - tolerance,
                          "stop": (times[-1] if times else stop) + tolerance, "span": span,
                          "follow_until": -math.inf, "refine_until": -math.inf, "margin": margin / fps,
                          "shots_open": 1.0}
        # with shots, every frame up to the end of the window is decoded: no seeking past a shot
        for frame, target, frame_time in self._frames_at(interval, k, times, math.inf if shots else span):
            if target is None:  # a frame after the last sample
                if shots and frame_time + tolerance < stop:
                    current = _thumb(frame)
                    if last_frame is not None and thumb_difference(current, last_frame) > SHOT_DIFFERENCE:
                        shot_due = True  # a new shot: sampled now, or MIN_SHOT_SECONDS after the last sample
                    last_frame = current
                    if shots_since_regular >= MAX_SHOT_SAMPLES_PER_INTERVAL:
                        shot_due = False  # this interval has had its shot sample: the next regular one sees the rest
                    if shot_due and frame_time - last_sample >= MIN_SHOT_SECONDS - tolerance:
                        shot_due = False
                        shots_since_regular += 1
                        if self._plan is not None:  # no more shot samples before the next regular one
                            self._plan["shots_open"] = float(shots_since_regular < MAX_SHOT_SAMPLES_PER_INTERVAL)
                        if pending is not None:
                            yield pending
                        pending = self._sample(frame, current, kept, skip_threshold, -1, frame_time, frame_time, shot=True)
                        kept = kept if pending.skipped else current
                        following = not pending.skipped and follow > 0
                        if following and self._plan is not None:
                            # the frames after a shot found on a key frame: decoded from now on, and decoded
                            # again from the key frame when some were skipped already
                            self._plan["follow_until"] = max(self._plan["follow_until"], frame_time + span)
                            if any(frame_time < x <= frame_time + span for x in self._skipped):
                                self._rewind = frame_time
                        next_follow, previous = frame_time + follow_step, current
                        last_sample = frame_time
                        continue
                elif shots and not following:
                    break  # past the window's end and done following: the next window goes on
                if pending is None or not following:
                    continue
                current = _thumb(frame)
                cut = previous is not None and thumb_difference(current, previous) > CUT_DIFFERENCE
                previous = current
                if cut:
                    following = False
                    continue
                if frame_time + tolerance < next_follow:
                    continue
                if frame_time > pending.frame_time + span:  # the frames after it were not decoded: too late now
                    following = False
                    continue
                pending.follow.append(self._upright(frame))
                pending.follow_times.append(round(frame_time, 3))
                following = len(pending.follow) < follow
                next_follow = frame_time + follow_step
                continue
            if pending is not None:
                yield pending
            thumb = _thumb(frame)
            last_frame, last_sample, shot_due, shots_since_regular = thumb, frame_time, False, 0
            if self._plan is not None:
                self._plan["shots_open"] = 1.0
            pending = self._sample(frame, thumb, kept, skip_threshold, k, target, frame_time)
            kept = kept if pending.skipped else thumb
            following = not pending.skipped and follow > 0
            next_follow, previous = frame_time + follow_step, thumb
            k += 1
        if pending is not None:
            yield pending

    def _sample(self, frame: Any, thumb: Image.Image, kept: Image.Image | None, skip_threshold: float, index: int,
                time: float, frame_time: float, shot: bool = False) -> SampledFrame:
        """A sample of `frame`, skipped when its thumbnail is nearly the last kept one's (then not converted)."""
        difference = thumb_difference(thumb, kept) if kept is not None else None
        skipped = difference is not None and difference < skip_threshold
        image = None if skipped else self._upright(frame)
        return SampledFrame(index, round(time, 3), round(frame_time, 3), thumb, difference, skipped, image, shot=shot)

    def _decoded(self) -> Iterator[Any]:
        if self._peeked is not None:
            frame, self._peeked = self._peeked, None
            yield frame
        yield from self._decoder

    def _seek(self, seconds: float) -> bool:
        """Jump to the key frame at or before `seconds` (from the first frame); False when the file cannot."""
        stream, origin = self._stream, self._start
        if origin is None or not stream.time_base or self.info.container == "avi":  # AVI indexes are unreliable
            return False
        try:
            self._container.seek(int((origin + seconds) / stream.time_base), stream=stream, backward=True)
        except (self._av.FFmpegError, OSError, ValueError):
            return False
        self._peeked = None
        self._decoder = self._decode_packets()
        return True

    def _decode_packets(self) -> Iterator[Any]:
        """The frames of the video stream from the current position, packet by packet, so that the plan
        (_packet_plan) can tell the decoder which packets to skip."""
        ctx = self._stream.codec_context
        for packet in self._container.demux(self._stream):
            if self._plan is not None and packet.pts is not None:
                mode = self._packet_plan(packet)
                if mode != ctx.skip_frame:
                    ctx.skip_frame = mode
                if mode == "NONKEY" and not packet.is_keyframe:
                    # frames come out of the decoder later than their packets go in: remember which were skipped
                    self._skipped.append(float(packet.pts * self._stream.time_base) - (self._start or 0.0))
            for frame in packet.decode():
                self.frames_decoded += 1
                yield frame

    def _packet_plan(self, packet: Any) -> str:
        """DEFAULT (decode) or NONKEY (key frames only) for the group of pictures this packet is in: a group is
        decoded in full when it is longer than KEYFRAME_SHOT_GAP (shots need every frame there), or from its key
        frame up to the frames the next sample and those that follow it need; otherwise only its key frame is."""
        plan, keys = self._plan, self._keyframes
        assert plan is not None and keys is not None
        t = float(packet.pts * self._stream.time_base) - (self._start or 0.0)
        ctx = self._stream.codec_context
        if packet.is_keyframe:
            i = bisect.bisect_right(keys, t + 1e-6)
            end = plan["group_end"] = keys[i] if i < len(keys) else math.inf
            plan["long_group"] = float(end - t > KEYFRAME_SHOT_GAP)
            # the last sample time in this group: decoded up to it and the frames that follow it
            last = math.floor(min(end, plan["stop"]) / plan["interval"]) * plan["interval"] if end < math.inf else -math.inf
            if last >= end - 1e-6:
                last -= plan["interval"]
            plan["sample_until"] = last + plan["span"] if last >= max(t, plan["first"]) - 1e-6 else -math.inf
            return "DEFAULT"
        if plan.get("long_group", 1.0):
            return "DEFAULT"
        if ctx.skip_frame == "NONKEY":
            return "NONKEY"  # skipping since a frame of this group: the frames after it cannot be decoded any more
        needed = max(plan["follow_until"], plan["refine_until"], plan.get("sample_until", -math.inf))
        return "DEFAULT" if t <= needed + plan["margin"] else "NONKEY"

    def _scan_keyframes(self, start: float, stop: float) -> bool:
        """Read the packets' key flags from `start` to the first key frame after `stop` (no decoding) into
        self._keyframes, then come back; False (nothing changed) where the file cannot seek."""
        stream = self._stream
        if self._start is None or not stream.time_base or self.info.container not in KEYFRAME_CONTAINERS:
            return False
        if not self._seek(start):
            return False
        keys: list[float] = []
        try:
            for packet in self._container.demux(stream):
                if packet.pts is None:
                    continue
                t = float(packet.pts * stream.time_base) - self._start
                if packet.is_keyframe:
                    keys.append(t)
                    if t > stop:
                        break
        except self._av.FFmpegError as e:
            raise CorruptMedia(f"the video data is damaged: {_reason(e)}") from None
        keys.sort()
        if not self._seek(start):
            raise CorruptMedia("the video could not be read again from its start after reading its index")
        self._keyframes = keys
        return True

    def _frames_at(
        self, interval: float, first_k: int, times: list[float] | None, follow_span: float = 0.0
    ) -> Iterator[tuple[Any, float | None, float]]:
        """(frame, sample time, frame time) for each sample time: `times`, or k * interval until the frames end;
        and (frame, None, frame time) for every other frame within `follow_span` seconds after a sample's."""
        fps = self.info.fps or 25.0
        tolerance = 0.5 / fps  # a frame shown half a frame before the sample time is that sample's frame
        targets = iter(times) if times is not None else (k * interval for k in itertools.count(first_k))
        target = next(targets, None)
        if target is None:
            return
        can_seek = True
        sought = -1.0  # the target of the last seek: a key frame far before it must not make us seek again
        if target > SEEK_GAP_SECONDS:
            can_seek = self._seek(target)
            sought = target
        last: tuple[Any, float] | None = None
        seek_from: float | None = None  # the frame time a seek left from, until the first frame after it
        decoded = 0
        position = 0.0
        follow_until = -math.inf  # frames up to this time follow the last sample: decode them, do not seek past
        plan = self._plan
        seen: tuple[float, Image.Image] | None = None  # the last frame handed out (shots on key frames)
        floor = -math.inf  # frames up to this time were handed out already (after going back)
        while True:  # once per seek: to a sample, or back to a shot's key frame
            jumped = False
            try:
                for frame in self._decoded():
                    decoded += 1
                    t = self._seconds_of(frame)
                    if t is None:  # no timestamps (some AVI): count frames instead, and never seek
                        can_seek = False
                        t = (decoded - 1) / fps
                    if plan is not None:
                        if t <= floor:
                            continue  # decoded again after going back: already handed out
                        if (frame.key_frame and seen is not None and plan["shots_open"]
                                and any(seen[0] < x < t for x in self._skipped)):
                            thumb = _thumb(frame)
                            if thumb_difference(thumb, seen[1]) > KEY_CUT_CANDIDATE:
                                # frames were skipped since the last one handed out, and this key frame looks
                                # different: decode the skipped ones after all, so a cut is found where it is
                                plan["refine_until"], floor = t, seen[0]
                                self._skipped = []
                                if self._seek(seen[0] + tolerance / 2):
                                    jumped = True
                                    break
                        self._skipped = [x for x in self._skipped if x > t]
                        seen, floor = (t, _thumb(frame)), t
                    position = t
                    last = (frame, t)
                    sampled = False
                    while target is not None and t + tolerance >= target:
                        yield frame, target, t
                        sampled, follow_until = True, t + follow_span
                        target = next(targets, None)
                        if plan is not None:
                            plan["follow_until"] = t + self._follow_span

                    if not sampled and t <= follow_until:
                        yield frame, None, t
                        if self._rewind is not None and plan is not None:
                            # a shot sample on a key frame (shot detection on key frames): its group was skipped
                            # after the key frame, so go back to it and decode the frames that follow it
                            rewind, self._rewind = self._rewind, None
                            plan["follow_until"] = rewind + self._follow_span
                            self._skipped = []  # decoded now
                            if self._seek(rewind + tolerance / 2):
                                jumped = True
                                break
                    if target is None:
                        if t >= follow_until:
                            return
                        continue
                    if seek_from is not None:  # the first frame after a seek: it must have moved us forward
                        if t <= seek_from + tolerance:
                            can_seek = False  # seeking lands back where it was (a lying index): decode on instead
                        seek_from = None
                    if can_seek and t >= follow_until and target - t > SEEK_GAP_SECONDS and target > sought:
                        can_seek = jumped = self._seek(target)
                        sought, seek_from = target, t
                        if jumped:
                            break
            except self._av.FFmpegError as e:
                raise CorruptMedia(f"the video data is damaged at {position:.1f} s: {_reason(e)}") from None
            if not jumped:
                break
        if target is not None:  # the frames ended with samples still due
            yield from self._after_the_last_frame(last, target, targets, fps)

    def _seconds_of(self, frame: Any) -> float | None:
        """When the frame is shown, from the first frame; None when it has no timestamp."""
        if frame.time is None:
            return None
        if self._start is None:
            self._start = frame.time
        return frame.time - self._start

    def _after_the_last_frame(self, last: tuple[Any, float] | None, target: float | None, targets: Iterator[float],
                              fps: float) -> Iterator[tuple[Any, float, float]]:
        """Samples due after the frames ended: the last frame still shows when the header's duration is only a
        little longer; a file whose frames stop well before it is truncated."""
        if last is None:
            raise CorruptMedia("no video frame could be decoded at the requested times (truncated or damaged)")
        frame, t = last
        duration = self.info.duration
        while target is not None:
            if duration > 0 and duration - (t + 1.0 / fps) > max(TRUNCATION_SLACK_SECONDS, 0.05 * duration):
                raise CorruptMedia(
                    f"the video is truncated: its frames stop at {t:.1f} s but its header says {duration:.1f} s"
                )
            if duration <= 0:
                return
            yield frame, target, t
            target = next(targets, None)

    def _upright(self, frame: Any) -> Image.Image:
        """The frame in RGB, scaled by FFmpeg's scaler to at most `frame_side` on its long side while converting
        (a 4K frame is never converted at 4K), then turned upright."""
        width, height = frame.width, frame.height
        side = max(width, height)
        if side > self.frame_side:
            width, height = max(2, round(width * self.frame_side / side)), max(2, round(height * self.frame_side / side))
            image = frame.reformat(width=width, height=height, format="rgb24", interpolation="BILINEAR").to_image()
        else:
            image = frame.to_image()  # RGB24
        rotation = self.info.rotation
        if rotation:
            image = image.rotate(rotation, expand=True)
        return image


# 8-bit formats whose first plane is the picture in grey (luma), and those of them in full range (0-255)
_LUMA_FIRST = {"yuv420p", "yuv422p", "yuv444p", "yuv440p", "yuv411p", "nv12", "nv21",
               "yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p"}
_FULL_RANGE = {"yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p"}
# luma in TV range (16-235) to 0-255, as FFmpeg's scaler converts it to grey
_TV_TO_FULL = [min(255, max(0, round((v - 16) * 255 / 219))) for v in range(256)]
# the luma plane is read every `short side // THUMB_READ_SIDE` pixels before it is shrunk
THUMB_READ_SIDE = 256


def _thumb(frame: Any) -> Image.Image:
    """The frame as a 32x32 grey thumbnail. Every decoded frame gets one (the skip and cut tests), so it must be
    cheap: FFmpeg's scaler reads every pixel of the frame (1.8-2.5 ms at 1080p, a quarter of a phone video's
    indexing time); the luma plane read every few pixels and shrunk by Pillow's bilinear filter takes 0.2-0.45 ms, and
    its differences between frames are FFmpeg's within 0.2-0.3 on the 0-255 scale (the thresholds above are
    compared with them: cuts are 18-31). Other pixel formats (10-bit, RGB) go through the scaler."""
    name = frame.format.name
    if name not in _LUMA_FIRST:
        small = frame.reformat(width=THUMB_SIDE, height=THUMB_SIDE, format="gray8")
        plane = small.planes[0]
        return Image.frombuffer("L", (THUMB_SIDE, THUMB_SIDE), bytes(plane), "raw", "L", plane.line_size, 1).copy()
    plane = frame.planes[0]
    height, width = frame.height, frame.width
    luma = Image.frombuffer("L", (width, height), plane, "raw", "L", plane.line_size, 1)  # the plane, not a copy
    step = max(1, min(height, width) // THUMB_READ_SIDE)
    if step > 1:  # one pixel of each step x step block: nearest reads only those
        luma = luma.resize((max(1, width // step), max(1, height // step)), Image.Resampling.NEAREST)
    thumb = luma.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BILINEAR)
    full = name in _FULL_RANGE or getattr(frame, "color_range", 0) == 2  # AVCOL_RANGE_JPEG
    return thumb if full else thumb.point(_TV_TO_FULL)


def _reason(e: Exception) -> str:
    return (getattr(e, "strerror", None) or str(e) or type(e).__name__).strip()


class RangedFile(io.RawIOBase):
    """A read-only, seekable file over `fetch(start, end_inclusive) -> bytes` (an S3 ranged GET), read in blocks:
    the decoder reads the index and the packets it needs, so seeking through a long video reads a fraction of
    it. Give it to `VideoReader` instead of the bytes."""

    def __init__(self, fetch: Callable[[int, int], bytes], size: int, block: int = 8 * 1024 * 1024) -> None:
        self._fetch, self._size, self._block = fetch, size, block
        self._pos = 0
        self._cache: dict[int, bytes] = {}
        self.bytes_fetched = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = 0
        while n < len(view) and self._pos < self._size:
            index, offset = divmod(self._pos, self._block)
            block = self._get(index)
            chunk = block[offset: offset + len(view) - n]
            if not chunk:
                break
            view[n: n + len(chunk)] = chunk
            n += len(chunk)
            self._pos += len(chunk)
        return n

    def _get(self, index: int) -> bytes:
        if index not in self._cache:
            if len(self._cache) >= 4:  # keep a few blocks: the index and the packets around the read position
                self._cache.pop(next(iter(self._cache)))
            start = index * self._block
            data = self._fetch(start, min(self._size, start + self._block) - 1)
            self.bytes_fetched += len(data)
            self._cache[index] = data
        return self._cache[index]
