"""domain/face_tracks.py: faces at the same place in the frames after a sample are one track, named once."""

from __future__ import annotations

import pytest

from mediaindex.domain.face_tracks import iou, link_faces
from mediaindex.domain.model import Box, Face


def face(left: float, top: float, size: float = 0.1, embedding: list[float] | None = None) -> Face:
    return Face(Box(left, top, size, size), 99.0, embedding=embedding)


def test_iou():
    assert iou(Box(0, 0, 1, 1), Box(0, 0, 1, 1)) == 1.0
    assert iou(Box(0, 0, 1, 1), Box(2, 2, 1, 1)) == 0.0
    assert iou(Box(0, 0, 2, 1), Box(1, 0, 2, 1)) == pytest.approx(1 / 3)
    assert iou(Box(0, 0, 0, 0), Box(0, 0, 0, 0)) == 0.0


def test_two_faces_moving_a_little_are_two_tracks():
    frames = [
        [face(0.10, 0.10), face(0.60, 0.50)],
        [face(0.62, 0.51), face(0.11, 0.10)],  # the order within a frame does not matter
        [face(0.12, 0.11), face(0.64, 0.52)],
    ]
    tracks = link_faces(frames)
    assert len(tracks) == 2
    left, right = sorted(tracks, key=lambda t: t.seen[0][1].box.left)
    assert [f.box.left for _, f in left.seen] == [0.10, 0.11, 0.12]
    assert [f.box.left for _, f in right.seen] == [0.60, 0.62, 0.64]
    assert [n for n, _ in left.seen] == [0, 1, 2]


def test_a_face_missed_in_one_frame_rejoins_its_track():
    tracks = link_faces([[face(0.3, 0.3)], [], [face(0.31, 0.3)]])
    assert len(tracks) == 1 and [n for n, _ in tracks[0].seen] == [0, 2]


def test_a_face_elsewhere_starts_a_track_and_one_frame_gives_a_track_one_face():
    tracks = link_faces([[face(0.1, 0.1)], [face(0.1, 0.1), face(0.105, 0.1), face(0.8, 0.8)]])
    assert sorted(len(t.seen) for t in tracks) == [1, 1, 2]  # the overlapping twin cannot join the same track


def test_the_track_face_is_the_sample_s_with_the_mean_embedding():
    sample_face = face(0.3, 0.3, 0.1, [1.0, 0.0])
    bigger_later = face(0.3, 0.3, 0.12, [0.0, 1.0])
    [track] = link_faces([[sample_face], [bigger_later]])
    frame, chosen = track.face()
    assert frame == 0 and chosen.box == sample_face.box
    assert chosen.embedding == [0.5, 0.5]
    assert sample_face.embedding == [1.0, 0.0]  # the detected faces are left as they were


def test_a_face_seen_only_after_the_sample_stands_by_its_largest_look():
    [track] = link_faces([[], [face(0.5, 0.5, 0.05, [2.0])], [face(0.5, 0.5, 0.06, None)], [face(0.5, 0.5, 0.055, [4.0])]])
    frame, chosen = track.face()
    assert frame == 2 and chosen.box.width == 0.06
    assert chosen.embedding == [3.0]  # the mean of the looks that have an embedding


def test_no_embedding_anywhere_gives_none():
    [track] = link_faces([[face(0.5, 0.5)], [face(0.5, 0.5)]])
    assert track.embedding() is None and track.face()[1].embedding is None
