"""media/video.py decodes only what sampling needs: shots found on key frames (with the skipped frames decoded
after all where a key frame looks like a cut), frames converted at the size the analysis reads, JPEG bytes of a
frame made only when read. Each result is compared with decoding every frame, the reader's behaviour before."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mediaindex.media import video
from mediaindex.media.video import FramePicture, VideoReader, frame_picture, thumb_difference
from tests.video.synth import noise, scenes, write_video


def _samples(data: bytes, interval: float, **kwargs):
    with VideoReader(data, **kwargs) as reader:
        samples = list(reader.samples(interval, follow=2, shots=True))
        return samples, reader.frames_decoded, reader._keyframes


def _every_frame(monkeypatch, data: bytes, interval: float):
    """The samples with every frame decoded (every group of pictures counts as too long for key frames)."""
    with monkeypatch.context() as m:
        m.setattr(video, "KEYFRAME_SHOT_GAP", 0.0)
        return _samples(data, interval)


def _grey(image: Image.Image) -> Image.Image:
    return image.convert("L").resize((32, 32), Image.Resampling.BILINEAR)


def _summary(samples):
    return [(s.time, s.frame_time, s.shot, s.skipped, s.follow_times) for s in samples]


@pytest.mark.parametrize("interval", [6.0, 2.0])
def test_real_clip_gives_the_same_samples_as_decoding_every_frame(monkeypatch, clip_bytes, interval):
    """The clip (key frames 2 s apart, cuts at 0.67, 2.74 and 7.04 s, two of them between key frames): the
    same samples, shot samples and following frames, showing the same pictures."""
    fast, _, keys = _samples(clip_bytes, interval)
    slow, every, _ = _every_frame(monkeypatch, clip_bytes, interval)
    assert keys  # the key frames were read: shots were looked for on them
    assert _summary(fast) == _summary(slow)
    assert any(s.shot for s in fast)
    for a, b in zip(fast, slow):
        assert thumb_difference(a.thumb, b.thumb) < 1.0
        assert all(thumb_difference(_grey(x), _grey(y)) < 1.0 for x, y in zip(a.follow, b.follow))


def test_a_short_shot_between_key_frames_is_found_where_it_starts(monkeypatch, tmp_path):
    """Key frames every second; a 0.6 s shot starts at 4.3 s, between two of them: the key frame after it looks
    different, so the skipped frames are decoded and the shot is sampled at 4.3 s, as when decoding everything;
    far fewer frames are decoded over the whole video."""
    fps = 10
    frames = scenes(fps, (noise(1), 4.3), (noise(2), 0.6), (noise(3), 7.1))
    data = write_video(tmp_path / "v.mp4", frames, fps=fps, gop=fps)
    fast, decoded, keys = _samples(data, 6.0)
    slow, every, _ = _every_frame(monkeypatch, data, 6.0)
    assert keys == pytest.approx([float(k) for k in range(12)])
    assert _summary(fast) == _summary(slow)
    assert [s.time for s in fast if s.shot] == [4.3]
    assert every >= len(frames) and decoded < 0.6 * every


def test_key_frames_far_apart_are_decoded_once(tmp_path):
    """One key frame for ten minutes: shots need every frame there, and each frame is decoded once (not again for
    each sample or shot), so the work grows with the video's length only."""
    fps = 2
    frames = scenes(fps, *[(noise(i), 3.0 if i == 0 else 30.0) for i in range(21)])  # cuts at 3 s, 33 s, ...: 10 min
    data = write_video(tmp_path / "v.mp4", [f.resize((64, 48)) for f in frames], fps=fps, gop=100_000)
    samples, decoded, keys = _samples(data, 6.0)
    assert keys == [0.0]
    assert len([s for s in samples if not s.shot]) == 101
    assert [s.time for s in samples if s.shot] == [3.0 + 30 * k for k in range(20)]  # each cut
    assert decoded <= len(frames) + 1


def test_frames_are_converted_at_the_size_asked_for(tmp_path):
    data = write_video(tmp_path / "v.mp4", [noise(1, (320, 192))] * 10, fps=5)
    with VideoReader(data, frame_side=80) as reader:
        (sample,) = list(reader.samples(6.0))
    assert sample.image is not None and sample.image.size == (80, 48)


def test_frame_picture_encodes_its_jpeg_only_when_read():
    image = noise(4, (320, 192))
    picture = frame_picture(image)
    assert isinstance(picture, FramePicture) and picture.video_frame
    assert picture.image is image and picture.size == (320, 192) and picture._jpeg is None
    decoded = Image.open(io.BytesIO(picture.data))
    assert decoded.format == "JPEG" and decoded.size == (320, 192)
    assert thumb_difference(_grey(decoded), _grey(image)) < 3.0
