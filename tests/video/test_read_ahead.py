"""The video's samples are decoded in a thread of their own, ahead of the analysis (services/video.py, ReadAhead):
the same samples in the same order, the decoder's errors raised where they were, and the thread gone when the
caller stops early."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest

from mediaindex.domain.errors import CorruptMedia
from mediaindex.services import video
from mediaindex.services.video import ReadAhead, VideoIndexer
from tests.video.conftest import BrightnessAnalyzer


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "video-read-ahead"}


def test_every_item_in_order_then_the_thread_ends() -> None:
    with ReadAhead(iter(range(50)), depth=2) as ahead:
        assert list(ahead) == list(range(50))
    assert not _threads()


def test_what_the_decoder_raises_comes_after_what_it_gave() -> None:
    def decode() -> Iterator[int]:
        yield 1
        yield 2
        raise CorruptMedia("truncated at 3 s")

    got = []
    with pytest.raises(CorruptMedia, match="truncated"), ReadAhead(decode(), depth=1) as ahead:
        for item in ahead:
            got.append(item)
    assert got == [1, 2]
    assert not _threads()


def test_a_caller_that_stops_early_stops_the_thread_and_closes_the_decoder() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    with pytest.raises(RuntimeError, match="analyzer failed"), ReadAhead(endless(), depth=2) as ahead:
        for item in ahead:
            if item == 3:
                raise RuntimeError("analyzer failed")
    assert closed.is_set()
    assert not _threads()


class _InOrder:
    """ReadAhead's stand-in that reads nothing ahead: the indexer as it was before."""

    def __init__(self, items, depth=0) -> None:
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def test_the_real_clip_gives_the_same_timeline_read_ahead_or_not(clip_bytes: bytes,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ahead = VideoIndexer(BrightnessAnalyzer(), interval=0.5).analyze(clip_bytes).to_fields()
    monkeypatch.setattr(video, "ReadAhead", _InOrder)
    in_order = VideoIndexer(BrightnessAnalyzer(), interval=0.5).analyze(clip_bytes).to_fields()
    assert ahead["video"]["frames_analysed"] > 5
    assert ahead == in_order
