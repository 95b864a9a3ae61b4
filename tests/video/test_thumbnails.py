"""The 32x32 grey thumbnail every decoded frame gets (skip, cut and shot tests) is read from the luma plane, not
made by FFmpeg's scaler: its differences from frame to frame must be the scaler's, which the thresholds in
media/video.py were measured with."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from mediaindex.media.video import THUMB_SIDE, _thumb, thumb_difference
from tests.conftest import SHARED_DATA

CLIP = SHARED_DATA / "video" / "short_hamilton_clip.mp4"


def _scaler_thumb(frame) -> Image.Image:
    small = frame.reformat(width=THUMB_SIDE, height=THUMB_SIDE, format="gray8")
    plane = small.planes[0]
    return Image.frombuffer("L", (THUMB_SIDE, THUMB_SIDE), bytes(plane), "raw", "L", plane.line_size, 1).copy()


def _frames(count: int, scale_to: tuple[int, int] | None = None):
    with av.open(str(CLIP)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= count:
                return
            yield frame if scale_to is None else frame.reformat(width=scale_to[0], height=scale_to[1])


@pytest.mark.parametrize("size", [None, (1920, 1080)], ids=["as it is", "1080p"])
def test_frame_to_frame_differences_are_the_scalers(size) -> None:
    ours, theirs, previous = [], [], None
    for frame in _frames(240, size):  # the clip's first 8 s: gestures, a cut at 25-29
        pair = (_thumb(frame), _scaler_thumb(frame))
        assert pair[0].size == (THUMB_SIDE, THUMB_SIDE) and pair[0].mode == "L"
        if previous is not None:
            ours.append(thumb_difference(pair[0], previous[0]))
            theirs.append(thumb_difference(pair[1], previous[1]))
        previous = pair
    ours_a, theirs_a = np.array(ours), np.array(theirs)
    assert theirs_a.max() > 20, "the clip's cut should be among these frames"
    # within 0.3 on the 0-255 scale where frames barely change (the skip threshold is 2), within 5 % at cuts
    assert (np.abs(ours_a - theirs_a) <= 0.3 + 0.05 * theirs_a).all()
    # the cut is where the scaler sees it
    assert int(np.argmax(ours_a)) == int(np.argmax(theirs_a))


def test_full_range_luma_is_not_stretched_and_other_formats_go_through_the_scaler() -> None:
    frame = next(_frames(1))
    tv = _thumb(frame)
    full = _thumb(frame.reformat(format="yuvj420p"))  # the same picture, luma stored 0-255
    assert abs(np.asarray(full, float).mean() - np.asarray(tv, float).mean()) < 3
    deep = frame.reformat(format="yuv420p10le")  # 10-bit: not a plane of bytes
    assert np.abs(np.asarray(_thumb(deep), float) - np.asarray(_scaler_thumb(deep), float)).max() == 0
