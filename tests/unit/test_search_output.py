"""`mediaindex search` in text: a video hit says when each person appears."""

from __future__ import annotations

from mediaindex.entrypoints.cli.search import clock, describe_hit


def test_clock():
    assert [clock(s) for s in (0, 6.0, 9.176, 59.6, 750, 3723)] == ["0:00", "0:06", "0:09", "1:00", "12:30", "1:02:03"]


def test_a_video_hit_says_when_each_person_appears():
    doc = {
        "bucket": "", "key": "/lib/show.mp4", "status": "indexed", "media_type": "video", "face_count": 2,
        "labels": [{"name": "Person", "confidence": 90.0}], "people": ["Ada Lovelace", "Grace Hopper"],
        "video": {"segments": {"people": [
            {"name": "Ada Lovelace", "start": 0.0, "end": 6.0},
            {"name": "Grace Hopper", "start": 6.0, "end": 12.0},
            {"name": "Ada Lovelace", "start": 72.0, "end": 90.0},
        ], "labels": []}},
    }
    assert describe_hit(doc) == ("/lib/show.mp4  [Person 90%; people: Ada Lovelace (0:00-0:06, 1:12-1:30), "
                                 "Grace Hopper (0:06-0:12); video]")


def test_a_picture_hit_names_people_without_times():
    doc = {"bucket": "b", "key": "a.jpg", "status": "indexed", "media_type": "image", "labels": [],
           "people": ["Ada Lovelace"], "face_count": 1}
    assert describe_hit(doc) == "b/a.jpg  [no labels; people: Ada Lovelace]"
