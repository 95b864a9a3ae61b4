"""A video costs what it contains: a tiny file whose header declares 347 days is refused at once
(MEDIAINDEX_MAX_VIDEO_SECONDS) instead of running hundreds of thousands of sample seeks; a seek that lands back
where it was turns seeking off (one decode pass, not one per sample); a stream without a duration is sampled up to
the limit at most; a pipeline gives such files a `failed` document with the reason."""

from __future__ import annotations

import dataclasses
import struct
import time

import pytest

from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError, MediaTooLarge
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.media.video import VideoReader
from mediaindex.ports import ObjectRef
from mediaindex.services.video import VideoIndexer, make_video_indexer
from tests.fakes import FakeFaces
from tests.video.conftest import ColourAnalyzer, make_pipeline
from tests.video.synth import noise, scenes, solid, write_video

DAYS_347_MS = 347 * 86400 * 1000.0


def forged_mkv(tmp_path, declared_ms: float) -> bytes:
    """A real one-frame mkv whose Segment Duration element (EBML id 0x4489, an 8-byte float in ms) is rewritten."""
    data = write_video(tmp_path / "tiny.mkv", [noise(1, (32, 32))], fps=1)
    at = data.find(b"\x44\x89\x88")
    assert at > 0
    return data[:at + 3] + struct.pack(">d", declared_ms) + data[at + 11:]


@pytest.mark.parametrize("declared", [DAYS_347_MS, 7 * 3600 * 1000.0])
def test_a_header_declaring_more_than_the_limit_is_refused_at_once(tmp_path, declared):
    data = forged_mkv(tmp_path, declared)
    assert len(data) < 4096
    pipeline = make_pipeline(ColourAnalyzer(), FakeFaces(None))
    pipeline.video = make_video_indexer(Settings(home=tmp_path), pipeline.analyzer, pipeline.faces)
    pipeline.storage.write("tiny.mkv", data)
    started = time.monotonic()
    outcome = pipeline.handle(StorageEvent(CREATED, ObjectRef(pipeline.storage.bucket, "tiny.mkv")))
    assert time.monotonic() - started < 5
    assert outcome.action == "failed" and outcome.reason.startswith("too_large: video declares")
    assert "MEDIAINDEX_MAX_VIDEO_SECONDS" in outcome.reason


def test_the_limit_is_a_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIAINDEX_MAX_VIDEO_SECONDS", "30")
    assert Settings.from_env().max_video_seconds == 30.0
    pipeline = make_pipeline(ColourAnalyzer(), FakeFaces(None))
    with pytest.raises(ConfigurationError, match="MEDIAINDEX_MAX_VIDEO_SECONDS"):
        VideoIndexer(pipeline.analyzer, pipeline.faces, max_seconds=0)
    short = VideoIndexer(pipeline.analyzer, pipeline.faces, interval=1.0, max_seconds=2.0)
    data = write_video(tmp_path / "five.mp4", scenes(5, (solid((200, 0, 0)), 5.0)))
    with pytest.raises(MediaTooLarge, match="declares 5 s"):
        short.analyze(data)


def test_a_seek_that_does_not_move_forward_turns_seeking_off(tmp_path):
    """One key frame for 60 s of video: every seek lands at 0 s. The reader decodes the video once, in order."""
    frames = scenes(5, *[(noise(i), 3) for i in range(20)])
    data = write_video(tmp_path / "one-gop.mp4", frames, codec="libx264")
    with VideoReader(data) as reader:
        seeks = []
        real_seek = reader._seek
        reader._seek = lambda seconds: seeks.append(seconds) or real_seek(seconds)  # type: ignore[method-assign]
        decoded = []
        real_decoded = reader._decoded

        def counting():
            for frame in real_decoded():
                decoded.append(frame)
                yield frame

        reader._decoded = counting  # type: ignore[method-assign]
        samples = list(reader.samples(6.0))
    assert [s.time for s in samples] == [6.0 * k for k in range(10)]
    assert len(seeks) <= 1
    assert len(decoded) <= len(frames) + 5  # each frame decoded about once, not once per sample


def test_a_stream_without_a_duration_is_sampled_up_to_the_limit_only(tmp_path, monkeypatch):
    data = write_video(tmp_path / "long.mp4", scenes(5, (solid((200, 0, 0)), 3.0), (solid((0, 0, 200)), 3.0)))
    real = VideoReader._read_info

    def without_duration(self, max_pixels):  # as some MPEG-TS and streamed files: the header says nothing
        info, stream = real(self, max_pixels)
        return dataclasses.replace(info, duration=0.0), stream

    monkeypatch.setattr(VideoReader, "_read_info", without_duration)
    pipeline = make_pipeline(ColourAnalyzer(), FakeFaces(None))
    fields = VideoIndexer(pipeline.analyzer, pipeline.faces, interval=1.0, max_seconds=2.0).analyze(data).to_fields()
    assert fields["video"]["duration"] <= 2.0 + 1 / fields["video"]["fps"] + 1e-6 and fields["video"]["frames_sampled"] == 2
    everything = VideoIndexer(pipeline.analyzer, pipeline.faces, interval=1.0).analyze(data).to_fields()
    assert everything["video"]["duration"] >= 5.0
