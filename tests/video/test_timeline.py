"""The timeline: segments from samples, windows joined, labels and faces kept, the document's fields."""

from __future__ import annotations

import pytest

from mediaindex.domain.model import Analysis, Box, Face, Label
from mediaindex.domain.video_timeline import MAX_UNNAMED_FACES, Timeline, merge_segments

THUMB = bytes(32 * 32)


def observe(timeline: Timeline, t: float, labels=(), people=(), unnamed=0, confidence=90.0) -> None:
    faces = [Face(Box(0.1 * i, 0.1, 0.1, 0.1), 99.0, person=p, face_id=f"f-{p}", similarity=90.0 + t / 100)
             for i, p in enumerate(people)]
    faces += [Face(Box(0.5, 0.5, 0.05 + 0.01 * i, 0.1), 90.0) for i in range(unnamed)]
    analysis = Analysis("test", labels=[Label(n, confidence, parents=["Thing"]) for n in labels], faces=faces, api_calls=2)
    timeline.add_analysis(t, analysis.labels, analysis.faces, analysis, THUMB)


def segments(fields, kind):
    return [(s["name"], s["start"], s["end"]) for s in fields["video"]["segments"][kind]]


def test_adjacent_samples_join_and_a_gap_splits():
    tl = Timeline(interval=6, duration=40)
    for t, people in [(0, ["Ada"]), (6, ["Ada", "Bob"]), (12, []), (18, ["Ada"]), (24, ["Ada"]), (30, []), (36, ["Bob"])]:
        observe(tl, t, people=people)
    tl.next_start = 40
    fields = tl.to_fields()
    assert segments(fields, "people") == [("Ada", 0, 12), ("Bob", 6, 12), ("Ada", 18, 30), ("Bob", 36, 40)]
    assert fields["people"] == ["Ada", "Bob"]
    assert fields["video"]["frames_sampled"] == fields["video"]["frames_analysed"] == 7


def test_last_segment_is_clipped_to_the_duration():
    tl = Timeline(interval=6, duration=9.2)
    observe(tl, 0, labels=["Stage"])
    observe(tl, 6, labels=["Stage"])
    assert segments(tl.to_fields(), "labels") == [("Stage", 0, 9.2)]


def test_skipped_samples_repeat_the_last_analysed_one():
    tl = Timeline(interval=2, duration=10)
    observe(tl, 0, labels=["Sea"], people=["Ada"])
    tl.add_skipped(2)
    tl.add_skipped(4)
    observe(tl, 6, labels=["Boat"])
    tl.add_skipped(8)
    fields = tl.to_fields()
    assert segments(fields, "people") == [("Ada", 0, 6)]
    assert segments(fields, "labels") == [("Sea", 0, 6), ("Boat", 6, 10)]
    video = fields["video"]
    assert (video["frames_sampled"], video["frames_skipped"], video["frames_analysed"]) == (5, 3, 2)


def test_labels_keep_their_best_confidence_and_every_parent():
    tl = Timeline(interval=1, duration=3)
    tl.add_analysis(0, [Label("Husky", 70.0, parents=["Dog"])], [], Analysis("test"), THUMB)
    tl.add_analysis(1, [Label("Husky", 95.0, parents=["Animal"])], [], Analysis("test"), THUMB)
    tl.add_analysis(2, [Label("Husky", 80.0)], [], Analysis("test"), THUMB)
    fields = tl.to_fields()
    [husky] = fields["labels"]
    assert husky["confidence"] == 95.0 and husky["parents"] == ["Animal", "Dog"]
    assert set(husky["names"]) == {"husky", "animal", "dog"}
    assert fields["label_names"] == ["husky", "animal", "dog"]


def test_faces_best_per_person_and_unnamed_capped():
    tl = Timeline(interval=1, duration=30)
    for t in range(20):
        observe(tl, t, people=["Ada"], unnamed=3)
    fields = tl.to_fields()
    named = [f for f in fields["faces"] if f["person"]]
    assert [f["person"] for f in named] == ["Ada"] and named[0]["similarity"] == pytest.approx(90.19)
    assert len(fields["faces"]) == 1 + MAX_UNNAMED_FACES == fields["face_count"]
    assert all("embedding" not in f for f in fields["faces"])


def test_unnamed_faces_with_close_embeddings_are_one_face():
    tl = Timeline(interval=1, duration=5)
    for t, vector in enumerate([[0.0, 0.0], [0.1, 0.0], [0.0, 0.2], [2.0, 2.0]]):
        face = Face(Box(0.1, 0.1, 0.2 - t / 100, 0.2), 95.0, embedding=vector)
        tl.add_analysis(t, [], [face], Analysis("test"), THUMB)
    assert len(tl.to_fields()["faces"]) == 2  # three sightings of one face, and another face


def test_merge_segments_joins_touching_spans():
    a = {"Ada": [[0.0, 6.0]], "Bob": [[0.0, 3.0]]}
    b = {"Ada": [[6.0, 12.0], [18.0, 20.0]], "Cy": [[6.0, 7.0]]}
    assert merge_segments(a, b) == {"Ada": [[0.0, 12.0], [18.0, 20.0]], "Bob": [[0.0, 3.0]], "Cy": [[6.0, 7.0]]}


def _observations():
    return [(0, ["Ada"], ["Sea"]), (2, ["Ada"], ["Sea"]), (4, [], ["Boat"]), (6, ["Bob"], ["Boat"]),
            (8, ["Bob", "Ada"], []), (10, ["Ada"], ["Sea"])]


def _timeline(start, end, duration=11.0):
    tl = Timeline(interval=2, duration=duration, start=start)
    for t, people, labels in _observations():
        if start <= t < end:
            observe(tl, t, labels=labels, people=people, confidence=60 + t)
    tl.next_start = min(end, duration)
    return tl


@pytest.mark.parametrize("cuts", [[4], [2, 6], [6, 8, 10], [2, 4, 6, 8, 10]])
def test_windows_merged_equal_the_whole(cuts):
    whole = _timeline(0, 11).to_fields()
    bounds = [0, *cuts, 11]
    merged = _timeline(bounds[0], bounds[1])
    for start, end in zip(bounds[1:], bounds[2:]):
        merged = merged.merge(_timeline(start, end))
    assert merged.to_fields() == whole


def test_merge_survives_the_state_store_round_trip():
    first = Timeline.from_state(_timeline(0, 6).to_state())
    assert first.merge(_timeline(6, 11)).to_fields() == _timeline(0, 11).to_fields()


def test_merge_refuses_windows_that_do_not_meet():
    with pytest.raises(ValueError):
        _timeline(0, 4).merge(_timeline(6, 11))


def test_each_face_keeps_when_it_was_seen():
    """segments.faces: the spans each face of the document was seen in (by its index in `faces`), joined across
    sightings of the same unnamed face and across windows, so a face named later can be put on the timeline."""
    tl = Timeline(interval=1, duration=6)
    for t, vector in [(0, [0.0, 0.0]), (1, [0.1, 0.0]), (4, [0.0, 0.1])]:
        tl.add_analysis(t, [], [Face(Box(0.1, 0.1, 0.2, 0.2), 95.0, embedding=vector)], Analysis("test"), THUMB)
    tl.add_analysis(2, [], [Face(Box(0.6, 0.1, 0.1, 0.1), 95.0, embedding=[3.0, 3.0])], Analysis("test"), THUMB)
    observe(tl, 3, people=["Ada"])
    fields = tl.to_fields()
    faces = fields["faces"]
    assert [f["person"] for f in faces] == ["Ada", None, None]
    assert fields["video"]["segments"]["faces"] == [
        {"face": 1, "start": 0.0, "end": 2.0}, {"face": 2, "start": 2.0, "end": 3.0},
        {"face": 0, "start": 3.0, "end": 4.0}, {"face": 1, "start": 4.0, "end": 5.0},
    ]
    assert all("seen" not in f for f in faces)
    first, second = Timeline(interval=1, duration=6), Timeline(interval=1, duration=6, start=3)
    for t in (0, 1, 2):
        first.add_analysis(t, [], [Face(Box(0.1, 0.1, 0.2, 0.2), 95.0, embedding=[0.0, 0.0])], Analysis("test"), THUMB)
    first.next_start = 3
    second.add_analysis(3, [], [Face(Box(0.1, 0.1, 0.2, 0.2), 95.0, embedding=[0.05, 0.0])], Analysis("test"), THUMB)
    second.next_start = 6
    joined = first.merge(second).to_fields()["video"]["segments"]["faces"]
    assert joined == [{"face": 0, "start": 0.0, "end": 4.0}]


def test_a_sample_between_the_regular_ones_ends_what_it_no_longer_shows():
    tl = Timeline(interval=6, duration=12)
    observe(tl, 0, labels=["Stage"], people=["Ada"])
    observe(tl, 2.5, labels=["Stage"], people=["Bob"])  # a new shot: Ada is gone from 2.5 s
    observe(tl, 6, labels=["Stage"], people=["Bob"])
    tl.next_start = 12
    fields = tl.to_fields()
    assert segments(fields, "people") == [("Ada", 0.0, 2.5), ("Bob", 2.5, 12.0)]
    assert segments(fields, "labels") == [("Stage", 0.0, 12.0)]
