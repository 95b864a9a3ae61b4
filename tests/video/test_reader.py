"""media/video.py: decoding, sampling times, the frame-difference skip, containers, rotation, bad files."""

from __future__ import annotations

import math

import pytest
from PIL import ImageStat

from mediaindex.domain.errors import BadMedia, CorruptMedia, EmptyFile, MediaTooLarge, UnsupportedMedia
from mediaindex.media import sniff
from mediaindex.media.video import (
    DEFAULT_SKIP_THRESHOLD, MAX_FRAME_SIDE, MAX_SHOT_SAMPLES_PER_INTERVAL, RangedFile, VideoReader, frame_picture, sample_times, thumb_difference,
)
from tests.video.synth import CONTAINERS, audio_only_mp4, noise, scenes, solid, write_video

RED, BLUE = (200, 30, 30), (30, 30, 200)


def test_sample_times_are_multiples_of_the_interval_within_the_window():
    assert sample_times(6, 0, 20) == [0, 6, 12, 18]
    assert sample_times(6, 0, 18) == [0, 6, 12]  # end is exclusive
    assert sample_times(6, 7, 19) == [12, 18]
    assert sample_times(0.5, 1.0, 2.2) == [1.0, 1.5, 2.0]
    with pytest.raises(ValueError):
        sample_times(0, 0, 10)


def test_real_clip_info(clip_bytes):
    with VideoReader(clip_bytes) as reader:
        info = reader.info
    assert (info.width, info.height, info.codec) == (640, 360, "h264")
    assert info.fps == pytest.approx(29.97, abs=0.01)
    # the video stream's own length (9.18 s), not the container's (10.02 s, the audio runs longer)
    assert info.duration == pytest.approx(9.176, abs=0.01)


@pytest.mark.parametrize("interval", [6.0, 2.0, 1.0, 0.5])
def test_real_clip_one_sample_per_interval_at_its_time(clip_bytes, interval):
    with VideoReader(clip_bytes) as reader:
        samples = list(reader.samples(interval, skip_threshold=0.0))
    expected = [k * interval for k in range(math.ceil(9.176 / interval))]
    assert [s.time for s in samples] == pytest.approx(expected)
    for s in samples:  # the frame shown at the sample time: at most one frame (1/29.97 s) later
        assert 0 <= s.frame_time - s.time < 1 / 29.97 + 1e-3
        assert s.image is not None and s.image.size == (640, 360) and not s.skipped


def test_seeking_and_sequential_decoding_give_the_same_frames(clip_bytes):
    """At 6 s the reader seeks; at 1 s it decodes on: the frame at 6 s must be the same either way."""
    with VideoReader(clip_bytes) as reader:
        sparse = {s.time: s for s in reader.samples(6.0, skip_threshold=0.0)}
    with VideoReader(clip_bytes) as reader:
        dense = {s.time: s for s in reader.samples(1.0, skip_threshold=0.0)}
    assert sparse[6.0].frame_time == dense[6.0].frame_time
    assert thumb_difference(sparse[6.0].thumb, dense[6.0].thumb) < 0.5


def test_seeking_with_one_key_frame_for_the_whole_video(tmp_path):
    """Every seek lands on the only key frame (0 s): the reader must decode forward, not seek again forever."""
    frames = scenes(5, *[(noise(i), 2) for i in range(10)])
    data = write_video(tmp_path / "one-gop.mp4", frames, codec="libx264")
    with VideoReader(data) as reader:
        samples = list(reader.samples(6.0))
    assert [s.time for s in samples] == [0, 6, 12, 18]
    assert [s.frame_time for s in samples] == pytest.approx([0, 6, 12, 18])
    with VideoReader(data) as reader:  # the frame at 12 s is scene 6 whichever way it was reached
        dense = {s.time: s for s in reader.samples(1.0, skip_threshold=0.0)}
    assert thumb_difference(samples[2].thumb, dense[12.0].thumb) < 0.5


def test_window_samples_only_its_own_times(clip_bytes):
    with VideoReader(clip_bytes) as reader:
        assert [s.time for s in reader.samples(1.0, start=4.0, end=7.0, skip_threshold=0.0)] == [4.0, 5.0, 6.0]
    with VideoReader(clip_bytes) as reader:
        assert [s.time for s in reader.samples(2.0, start=5.0)] == [6.0, 8.0]


def test_real_clip_cuts_are_never_skipped_but_a_lax_threshold_skips(clip_bytes):
    with VideoReader(clip_bytes) as reader:
        default = list(reader.samples(1.0))
    # every one-second step of this clip changes the picture (differences 5-27), so nothing is skipped
    assert not any(s.skipped for s in default)
    assert all(s.difference > DEFAULT_SKIP_THRESHOLD for s in default[1:])
    with VideoReader(clip_bytes) as reader:
        lax = list(reader.samples(1.0, skip_threshold=20.0))
    skipped = [s for s in lax if s.skipped]
    assert skipped and all(s.image is None and s.difference < 20.0 for s in skipped)
    assert not lax[0].skipped  # the first frame is always analysed


def test_static_video_is_analysed_once(tmp_path):
    data = write_video(tmp_path / "static.mp4", scenes(5, (noise(1), 8)))
    with VideoReader(data) as reader:
        samples = list(reader.samples(2.0))
    assert [s.time for s in samples] == [0, 2, 4, 6]
    assert [s.skipped for s in samples] == [False, True, True, True]


def test_changing_video_is_analysed_at_every_sample(tmp_path):
    data = write_video(tmp_path / "changing.mp4", scenes(5, *[(noise(i), 1) for i in range(6)]))
    with VideoReader(data) as reader:
        samples = list(reader.samples(1.0))
    assert len(samples) == 6 and not any(s.skipped for s in samples)
    assert all(s.difference > 20 for s in samples[1:])


def test_skip_compares_with_the_last_analysed_frame_not_the_previous_sample(tmp_path):
    """A slow fade: each step is below the threshold, but the drift from the last analysed frame is not."""
    frames = scenes(5, *[(solid((g, g, g)), 1) for g in range(100, 140, 5)])
    data = write_video(tmp_path / "fade.mkv", frames)
    with VideoReader(data) as reader:
        samples = list(reader.samples(1.0, skip_threshold=11.0))  # steps of about 5
    assert [s.skipped for s in samples] == [False, True, True, False, True, True, False, True]


def test_last_thumb_carries_skipping_into_the_next_window(tmp_path):
    data = write_video(tmp_path / "static.webm", scenes(5, (noise(3), 6)))
    with VideoReader(data) as reader:
        first = list(reader.samples(1.0, end=3.0))
    with VideoReader(data) as reader:
        second = list(reader.samples(1.0, start=3.0, last_thumb=first[0].thumb))
    assert [s.skipped for s in first] == [False, True, True]
    assert [s.skipped for s in second] == [True, True, True]


def slow_drift(fps: int, seconds: float):
    """A picture that changes a little every frame (a moving stripe), so no two frames are alike and none is a cut."""
    frames = []
    for i in range(round(fps * seconds)):
        picture = noise(7).copy()
        picture.paste((255, 255, 255), (i % 160, 0, i % 160 + 4, 96))
        frames.append(picture)
    return frames


def test_each_analysed_sample_carries_the_frames_that_follow_it(tmp_path):
    data = write_video(tmp_path / "drift.mp4", slow_drift(30, 3), fps=30)
    with VideoReader(data) as reader:
        samples = list(reader.samples(1.0, follow=2))
    assert [s.time for s in samples] == [0, 1, 2]
    for s in samples:
        assert len(s.follow) == 2 and all(image.size == (160, 96) for image in s.follow)
        # the frames 0.1 s and 0.2 s after the sample's (to half a frame)
        assert s.follow_times == pytest.approx([s.frame_time + 0.1, s.frame_time + 0.2], abs=0.5 / 30 + 1e-3)


def test_following_stops_at_a_cut(tmp_path):
    frames = scenes(30, (noise(1), 1.0), (noise(2), 0.15), (noise(3), 1.0))  # a cut 0.15 s after the sample at 1 s
    data = write_video(tmp_path / "cut.mp4", frames, fps=30)
    with VideoReader(data) as reader:
        samples = list(reader.samples(1.0, follow=3))
    # the first sample's scene lasts; the second's is cut after one frame; the third's video ends
    assert [len(s.follow) for s in samples] == [3, 1, 1]
    # a still scene is skipped and a skipped sample needs no following frames
    with VideoReader(data) as reader:
        assert [(s.skipped, len(s.follow)) for s in reader.samples(0.5, follow=2)] == [
            (False, 2), (True, 0), (False, 1), (False, 2), (True, 0)]


def without_and_with_following(data: bytes, interval: float, follow: int):
    """(sample time, frame time) of each sample read without following, and the samples read with it."""
    with VideoReader(data) as plain:
        expected = [(s.time, s.frame_time) for s in plain.samples(interval)]
    with VideoReader(data) as reader:
        return expected, list(reader.samples(interval, follow=follow))


def test_following_never_takes_a_later_sample_s_frame(tmp_path):
    """Samples closer together than the following frames: every sample is still there, at its own frame."""
    data = write_video(tmp_path / "dense.mp4", slow_drift(30, 1), fps=30)
    expected, followed = without_and_with_following(data, 0.1, 3)
    assert [(s.time, s.frame_time) for s in followed] == expected and len(expected) == 10
    assert all(t > s.frame_time for s in followed for t in s.follow_times)


def test_following_does_not_break_seeking_over_long_gaps(tmp_path):
    data = write_video(tmp_path / "long.mp4", slow_drift(10, 20), fps=10)
    expected, followed = without_and_with_following(data, 9.0, 2)
    assert [(s.time, s.frame_time) for s in followed] == expected == [(0, 0), (9, 9), (18, 18)]
    assert [len(s.follow) for s in followed] == [2, 2, 2]


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_every_container_is_sniffed_as_video_and_sampled(tmp_path, container):
    suffix, codec = CONTAINERS[container]
    data = write_video(tmp_path / f"scenes{suffix}", scenes(5, (solid(RED), 2), (solid(BLUE), 2), (solid(RED), 2)))
    assert sniff.sniff(data[:512])[0] == sniff.VIDEO
    with VideoReader(data) as reader:
        assert (reader.info.width, reader.info.height) == (160, 96)
        assert reader.info.duration == pytest.approx(6.0, abs=0.05)
        samples = list(reader.samples(1.0))
    assert [s.time for s in samples] == [0, 1, 2, 3, 4, 5]
    assert [s.skipped for s in samples] == [False, True, False, True, False, True]
    colours = [ImageStat.Stat(s.image).mean for s in samples if not s.skipped]
    assert [("red" if c[0] > c[2] else "blue") for c in colours] == ["red", "blue", "red"]


def test_reads_from_a_path_and_from_a_ranged_file(tmp_path, clip_bytes):
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip_bytes)
    with VideoReader(path) as reader:
        from_path = [s.frame_time for s in reader.samples(3.0)]
    fetched = []

    def fetch(start: int, end: int) -> bytes:
        fetched.append((start, end))
        return clip_bytes[start: end + 1]

    ranged = RangedFile(fetch, len(clip_bytes), block=64 * 1024)
    with VideoReader(ranged) as reader:
        from_ranges = [s.frame_time for s in reader.samples(3.0)]
    assert from_ranges == from_path == pytest.approx([0.0, 3.003, 6.006, 9.009])
    assert all(end - start < 64 * 1024 for start, end in fetched)  # block-sized ranged reads
    assert ranged.bytes_fetched >= len(clip_bytes) // 2


def test_display_rotation_is_applied(tmp_path):
    from PIL import Image

    wide = Image.new("RGB", (64, 32), (0, 0, 0))
    wide.paste((255, 255, 255), (0, 0, 32, 32))  # left half white
    data = write_video(tmp_path / "phone.mp4", [wide] * 5, rotation=90)
    with VideoReader(data) as reader:
        assert (reader.info.width, reader.info.height, reader.info.rotation) == (32, 64, 90)
        image = next(reader.samples(1.0)).image
    assert image.size == (32, 64)
    # turned a quarter counter-clockwise: the left half is now at the bottom
    bottom = ImageStat.Stat(image.crop((0, 40, 32, 64))).mean[0]
    top = ImageStat.Stat(image.crop((0, 0, 32, 24))).mean[0]
    assert bottom > 200 and top < 50


def test_large_frames_are_shrunk_for_analysis(tmp_path):
    data = write_video(tmp_path / "big.mkv", [noise(5, (2560, 1440))] * 2, fps=2, codec="mpeg4")
    with VideoReader(data) as reader:
        assert (reader.info.width, reader.info.height) == (2560, 1440)
        image = next(reader.samples(1.0)).image
    assert max(image.size) == MAX_FRAME_SIDE and image.size == (1920, 1080)


def test_frame_picture_carries_jpeg_bytes_and_the_decoded_frame():
    image = noise(9)
    picture = frame_picture(image)
    assert picture.format == "jpeg" and picture.data[:3] == b"\xff\xd8\xff"
    assert picture.image is image and (picture.width, picture.height) == image.size


# ---- bad files ---------------------------------------------------------------------------------------------------------
def test_empty_file():
    with pytest.raises(EmptyFile):
        VideoReader(b"")


def test_garbage_after_a_video_signature_is_corrupt():
    data = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 40
    assert sniff.sniff(data[:512])[0] == sniff.VIDEO
    with pytest.raises(CorruptMedia) as e:
        VideoReader(data)
    assert "not a readable video container" in str(e.value)


def test_garbage_matroska_is_corrupt():
    with pytest.raises(CorruptMedia):
        VideoReader(b"\x1a\x45\xdf\xa3" + b"\x00" * 2000)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_real_clip_is_corrupt(clip_bytes, keep):
    """The clip's index (moov) is at its end: any cut loses it."""
    with pytest.raises(CorruptMedia):
        with VideoReader(clip_bytes[: int(len(clip_bytes) * keep)]) as reader:
            list(reader.samples(1.0))


def test_truncated_streamable_mp4_is_corrupt_with_a_reason(tmp_path):
    """With the index first (faststart), a cut file opens, but its frames stop early: reported as truncated."""
    frames = scenes(5, *[(noise(i), 1) for i in range(10)])
    data = write_video(tmp_path / "fast.mp4", frames, options={"movflags": "faststart"})
    with VideoReader(data) as reader:  # whole: fine
        assert len(list(reader.samples(1.0))) == 10
    with pytest.raises(CorruptMedia) as e:
        with VideoReader(data[: len(data) // 2]) as reader:
            list(reader.samples(1.0))
    assert "truncated" in str(e.value) or "damaged" in str(e.value)


def test_truncated_matroska_is_corrupt(tmp_path):
    frames = scenes(5, *[(noise(i), 1) for i in range(10)])
    data = write_video(tmp_path / "cut.mkv", frames)
    with pytest.raises(CorruptMedia):
        with VideoReader(data[: len(data) // 2]) as reader:
            list(reader.samples(1.0))


def test_audio_only_file_is_unsupported(tmp_path):
    data = audio_only_mp4(tmp_path / "sound.m4a")
    assert sniff.sniff(data[:512])[0] == sniff.VIDEO  # an mp4 by its bytes
    with pytest.raises(UnsupportedMedia) as e:
        VideoReader(data)
    assert "no video stream" in str(e.value)


def test_frames_above_the_pixel_limit_are_refused(tmp_path):
    data = write_video(tmp_path / "small.mp4", [noise(1)] * 3)
    with pytest.raises(MediaTooLarge):
        VideoReader(data, max_pixels=160 * 96 - 1)


def test_every_bad_file_error_is_bad_media():
    for error in (EmptyFile, CorruptMedia, UnsupportedMedia, MediaTooLarge):
        assert issubclass(error, BadMedia)


def test_shots_add_a_sample_at_each_new_shot_and_the_last_one(video_path):
    """The clip has cuts at 0.67 s, 2.74 s and 7.04 s (frame-to-frame jumps of 25-29; motion stays under 13):
    a new shot gets a sample, one closer than a second after a sample a second after it, one per interval (the
    shot from 2.74 s is seen by the regular sample at 6 s)."""
    with VideoReader(video_path) as reader:
        samples = list(reader.samples(6.0, follow=2, shots=True))
    assert [(s.time, s.shot) for s in samples] == [(0.0, False), (1.001, True), (6.0, False), (7.04, True)]
    assert all(s.image is not None and len(s.follow) == 2 for s in samples)
    with VideoReader(video_path) as reader:  # a window: shots inside it only, the next window goes on from its end
        assert [s.time for s in reader.samples(6.0, 0.0, 6.0, shots=True)] == [0.0, 1.001]
    with VideoReader(video_path) as reader:
        assert [s.time for s in reader.samples(6.0, 6.0, None, shots=True)] == [6.0, 7.04]


def test_a_fast_cut_video_gets_at_most_one_shot_sample_per_interval(tmp_path):
    """A cut every 0.4 s for a minute: without a cap it was a sample a second (60, each a set of Rekognition
    calls); capped, each 6 s interval has its regular sample and one shot sample, 20 in all (2 x 60 / 6)."""
    fps, cut_every, seconds, interval = 5, 0.4, 60, 6.0
    frames = scenes(fps, *[(noise(i), cut_every) for i in range(round(seconds / cut_every))])
    data = write_video(tmp_path / "fast-cuts.mp4", frames, fps=fps)
    with VideoReader(data) as reader:
        samples = list(reader.samples(interval, shots=True))
    per_interval: dict[int, int] = {}
    for sample in samples:
        per_interval[int(sample.time // interval)] = per_interval.get(int(sample.time // interval), 0) + 1
    assert set(per_interval.values()) == {1 + MAX_SHOT_SAMPLES_PER_INTERVAL}, per_interval
    assert len(samples) == 20 and sum(s.shot for s in samples) == 10
    # every shot sample is at a cut, a second or more after the regular sample of its interval
    assert all(s.time % interval >= 1.0 - 1e-6 for s in samples if s.shot)
