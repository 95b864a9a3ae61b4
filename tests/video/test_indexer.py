"""services/video.py: the indexer on the real clip and on synthesised videos, windows, continuation across
invocations with a state store, and the pipeline contract (bootstrap installs it; bad videos get `failed`)."""

from __future__ import annotations

import hashlib
import math

import boto3
import pytest
from moto import mock_aws
from PIL import ImageStat

from mediaindex.bootstrap import build_app, build_pipeline
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError, MediaTooLarge
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.domain.model import Analysis, Box, Face, FaceMatch, Label
from mediaindex.ports import ObjectRef, StoredObject
from mediaindex.services.indexing import FAILED, INDEXED
from mediaindex.adapters.video_state.dynamodb import DynamoVideoStateStore
from mediaindex.domain.video_timeline import Timeline
from mediaindex.services.video import MemoryStateStore, VideoContinued, VideoIndexer, make_video_indexer
from tests.fakes import FakeFaces, FakeIndex, FakeStorage
from tests.video.conftest import BrightnessAnalyzer, ColourAnalyzer, make_pipeline
from tests.video.synth import CONTAINERS, noise, scenes, solid, write_video

RED, BLUE = (200, 30, 30), (30, 30, 200)
CLIP_SECONDS = 9.176


def stored(data: bytes, key: str = "clip.mp4") -> StoredObject:
    return StoredObject(ObjectRef("media", key), data, len(data))


def spans(fields, kind, name=None):
    return [(s["name"], s["start"], s["end"]) for s in fields["video"]["segments"][kind] if name in (None, s["name"])]


def expected_spans(labels_per_sample, interval, duration, name):
    """Independent of the code under test: runs of consecutive samples showing `name`."""
    out = []
    for k, labels in enumerate(labels_per_sample):
        if name not in labels:
            continue
        t = k * interval
        if out and out[-1][2] >= t:
            out[-1] = (name, out[-1][1], min(t + interval, duration))
        else:
            out.append((name, t, min(t + interval, duration)))
    return [(n, round(s, 3), round(e, 3)) for n, s, e in out]


# ---- the real clip ---------------------------------------------------------------------------------------------------
def test_real_clip_timeline_with_a_deterministic_analyzer(clip_bytes):
    analyzer = BrightnessAnalyzer()
    faces = FakeFaces("Ada Lovelace")
    indexer = VideoIndexer(analyzer, faces, interval=1.0)
    fields, calls = indexer(stored(clip_bytes))
    video = fields["video"]
    assert (video["duration"], video["width"], video["height"], video["codec"]) == (CLIP_SECONDS, 640, 360, "h264")
    assert video["fps"] == pytest.approx(29.97, abs=0.01)
    assert video["frames_sampled"] == 10 == video["frames_analysed"] + video["frames_skipped"]
    assert video["frames_skipped"] == 0  # every second of this clip looks different
    assert analyzer.calls == video["frames_analysed"]
    assert analyzer.seen == ["Dark", "Bright", "Dark", "Bright", "Bright", "Bright", "Bright", "Bright", "Dark", "Dark"]
    for name in ("Bright", "Dark"):
        assert spans(fields, "labels", name) == expected_spans([[s] for s in analyzer.seen], 1.0, CLIP_SECONDS, name)
    assert spans(fields, "labels", "Dark")[-1] == ("Dark", 8.0, CLIP_SECONDS)  # clipped to the duration
    # a face on each bright frame, recognised as Ada: she is "in" the video exactly when it is bright
    assert spans(fields, "people") == [("Ada Lovelace", 1.0, 2.0), ("Ada Lovelace", 3.0, 8.0)]
    assert fields["people"] == ["Ada Lovelace"] and fields["face_count"] == 1
    bright = [s for s in analyzer.seen if s == "Bright"]
    assert calls == analyzer.calls + len(bright)  # one analyzer call a frame, one identify call a face
    assert fields["label_names"] == ["bright", "dark"] and fields["analyzer"] == "brightness"
    assert faces.remembered == {hashlib.sha256(clip_bytes).hexdigest(): 1}


def test_default_interval_samples_every_six_seconds_and_each_new_shot(clip_bytes, monkeypatch):
    analyzer = BrightnessAnalyzer()
    pipeline = make_pipeline(analyzer)
    indexer = make_video_indexer(Settings(), pipeline.analyzer, pipeline.faces)
    fields, calls = indexer(stored(clip_bytes))
    assert indexer.interval == 6.0 and indexer.shots
    # 0:00 and 0:06, and one new shot in each interval (0:01, and the last one from 0:07)
    assert fields["video"]["frames_sampled"] == 4 == analyzer.calls == calls and fields["video"]["frames_at_shots"] == 2
    assert fields["people"] == []  # no face collection: nobody is named
    monkeypatch.setenv("MEDIAINDEX_VIDEO_SHOTS", "0")
    analyzer.calls = 0
    fields, calls = make_video_indexer(Settings.from_env(), pipeline.analyzer, pipeline.faces)(stored(clip_bytes))
    assert fields["video"]["frames_sampled"] == 2 == analyzer.calls and fields["video"]["frames_at_shots"] == 0


def test_skipped_frames_save_analyzer_calls_and_keep_the_timeline_whole(clip_bytes):
    analyzer = BrightnessAnalyzer()
    indexer = VideoIndexer(analyzer, interval=0.5, skip_threshold=15.0)
    fields, _ = indexer(stored(clip_bytes))
    video = fields["video"]
    assert video["frames_sampled"] == math.ceil(CLIP_SECONDS / 0.5) == 19
    assert video["frames_skipped"] > 0 and analyzer.calls == video["frames_analysed"] == 19 - video["frames_skipped"]
    covered = sum(e - s for _, s, e in spans(fields, "labels"))
    assert covered == pytest.approx(CLIP_SECONDS)  # every sample, skipped or not, is on the timeline


def test_windows_of_the_real_clip_merge_into_the_whole(clip_bytes):
    whole_indexer = VideoIndexer(BrightnessAnalyzer(), FakeFaces("Ada"), interval=1.0)
    whole = whole_indexer.analyze_window(clip_bytes, 0.0, None)
    indexer = VideoIndexer(BrightnessAnalyzer(), FakeFaces("Ada"), interval=1.0)
    first = indexer.analyze_window(clip_bytes, 0.0, 4.0)
    second = indexer.analyze_window(clip_bytes, 4.0, 7.0, previous=first)
    third = indexer.analyze_window(clip_bytes, 7.0, None, previous=first.merge(second))
    assert (first.next_start, second.next_start, third.next_start) == (4.0, 7.0, CLIP_SECONDS)
    assert first.merge(second).merge(third).to_fields() == whole.to_fields()


def test_a_long_video_continues_across_invocations_and_ends_as_one_pass(tmp_path):
    frames = scenes(5, (solid(RED), 4), (noise(1), 3), (solid(BLUE), 5), (solid(RED), 4))
    data = write_video(tmp_path / "long.mp4", frames)
    one_pass, one_pass_calls = VideoIndexer(ColourAnalyzer(), FakeFaces("Ada"), interval=1.0)(stored(data))

    analyzer, store = ColourAnalyzer(), MemoryStateStore()
    indexer = VideoIndexer(analyzer, FakeFaces("Ada"), interval=1.0, state_store=store,
                           time_left=lambda: 0.0, window_samples=3)
    invocations, offsets = 0, []
    while True:
        invocations += 1
        try:
            fields, calls = indexer(stored(data))
            break
        except VideoContinued as progress:
            offsets.append(progress.next_start)
            assert store.get(progress.key)["next_start"] == progress.next_start
    assert offsets == [3.0, 6.0, 9.0, 12.0, 15.0] and invocations == 6
    assert fields == one_pass
    assert analyzer.calls == one_pass["video"]["frames_analysed"]  # no frame analysed twice
    assert calls == one_pass_calls  # the paid calls of every invocation add up, kept in the saved state
    assert store.states == {}  # finished: the state is gone


def test_with_time_to_spare_one_invocation_does_it_all(tmp_path):
    data = write_video(tmp_path / "short.mkv", scenes(5, (solid(RED), 3), (solid(BLUE), 3)))
    store = MemoryStateStore()
    indexer = VideoIndexer(ColourAnalyzer(), interval=1.0, state_store=store,
                           time_left=lambda: 900.0, window_samples=2)
    fields, _ = indexer(stored(data))
    assert fields["video"]["frames_sampled"] == 6 and store.states == {}


def test_dynamodb_state_store_round_trip():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="video-state", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        store = DynamoVideoStateStore("video-state", client=client)
        timeline = Timeline(interval=6, duration=3600, next_start=600, people={"Ada": [[0.0, 36.0]]})
        assert store.get("video:abc") is None
        store.put("video:abc", timeline.to_state())
        assert Timeline.from_state(store.get("video:abc")) == timeline
        item = client.get_item(TableName="video-state", Key={"pk": {"S": "video:abc"}})["Item"]
        assert int(item["expires_at"]["N"]) > 0
        store.delete("video:abc")
        assert store.get("video:abc") is None


# ---- every container through the indexer -----------------------------------------------------------------------------
@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_every_container_gives_the_same_timeline(tmp_path, container, colour_indexer):
    suffix, _ = CONTAINERS[container]
    data = write_video(tmp_path / f"v{suffix}", scenes(5, (solid(RED), 2), (solid(BLUE), 2), (solid(RED), 2)))
    indexer = colour_indexer(interval=1.0)
    fields, calls = indexer(stored(data, f"v{suffix}"))
    assert spans(fields, "labels") == [("Red", 0, 2), ("Blue", 2, 4), ("Red", 4, 6)]
    assert spans(fields, "people") == [("Ada Lovelace", 0, 2), ("Ada Lovelace", 4, 6)]
    video = fields["video"]
    assert (video["frames_sampled"], video["frames_skipped"], video["frames_analysed"]) == (6, 3, 3)
    assert fields["label_names"] == ["red", "colour", "blue"]
    assert calls == 3 + 2  # three frames analysed, two faces identified (the red frames)


# ---- the pipeline contract -------------------------------------------------------------------------------------------
def test_bootstrap_installs_the_indexer_and_a_person_search_finds_the_video(clip_bytes):
    storage, index = FakeStorage(), FakeIndex()
    pipeline = build_pipeline(Settings(video_interval=2.0), storage=storage, index=index,
                              analyzer=BrightnessAnalyzer(), faces=FakeFaces("Lin-Manuel Miranda"))
    assert isinstance(pipeline.video, VideoIndexer) and pipeline.video.interval == 2.0
    storage.write("shows/hamilton.mp4", clip_bytes)
    outcome = pipeline.handle(StorageEvent(CREATED, ObjectRef("media", "shows/hamilton.mp4")))
    assert outcome.action == INDEXED and outcome.faces == 1
    doc = index.live()["shows/hamilton.mp4"]
    assert doc["status"] == "indexed" and doc["media_type"] == "video" and doc["content_type"] == "video/mp4"
    assert "Lin-Manuel Miranda" in doc["people"]
    assert {s["name"] for s in doc["video"]["segments"]["people"]} == {"Lin-Manuel Miranda"}
    assert doc["video"]["frames_sampled"] == 5 + 3 and doc["width"] == 640  # every 2 s, and the 3 new shots


def test_bootstrap_builds_the_video_indexer_on_the_analyzer_and_faces_and_hands_it_to_the_pipeline():
    app = build_app(Settings(video_interval=2.0), storage=FakeStorage(), index=FakeIndex(),
                    analyzer=BrightnessAnalyzer(), faces=FakeFaces("Ada"))
    assert app.pipeline.video is app.video
    assert (app.video.analyzer, app.video.faces, app.video.interval) == (app.analyzer, app.faces, 2.0)


@pytest.mark.parametrize("cut", [0.0, 0.5])
def test_a_broken_video_gets_a_failed_document_with_its_reason(clip_bytes, cut):
    storage, index = FakeStorage(), FakeIndex()
    pipeline = make_pipeline(BrightnessAnalyzer())
    pipeline.storage, pipeline.index = storage, index
    pipeline.video = make_video_indexer(Settings(video_interval=1.0), pipeline.analyzer, pipeline.faces)
    data = clip_bytes[:32] + b"\x00" * 4000 if cut == 0.0 else clip_bytes[: int(len(clip_bytes) * cut)]
    storage.write("broken.mp4", data)
    outcome = pipeline.handle(StorageEvent(CREATED, ObjectRef("media", "broken.mp4")))
    assert outcome.action == FAILED and outcome.reason.startswith("corrupt: ")
    assert index.live()["broken.mp4"]["status"] == "failed"


def test_videos_above_the_byte_limit_are_refused(clip_bytes, monkeypatch):
    pipeline = make_pipeline(BrightnessAnalyzer())
    with pytest.raises(MediaTooLarge) as e:
        VideoIndexer(pipeline.analyzer, pipeline.faces, max_bytes=1000)(stored(clip_bytes))
    assert "above the limit of 1,000" in str(e.value)
    monkeypatch.setenv("MEDIAINDEX_MAX_VIDEO_BYTES", "2000")
    assert make_video_indexer(Settings.from_env(), pipeline.analyzer, pipeline.faces).max_bytes == 2000
    assert pipeline.analyzer.calls == 0


def test_a_bad_interval_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        make_video_indexer(Settings(video_interval=0.0), BrightnessAnalyzer())


def test_a_video_without_duration_ends_with_its_last_frame(tmp_path, colour_indexer):
    """An MPEG-TS of one frame declares no duration: segments end with the frame, not a whole interval later."""
    data = write_video(tmp_path / "one.ts", [solid(RED)])
    for indexer in (colour_indexer(interval=6.0),
                    colour_indexer(interval=6.0, state_store=MemoryStateStore(), time_left=lambda: 0.0)):
        fields, _ = indexer(stored(data, "one.ts"))
        duration = fields["video"]["duration"]  # one frame: 1 / fps (MPEG-TS keeps no rate: 25 is assumed)
        assert duration == pytest.approx(1 / fields["video"]["fps"], abs=1e-3) and fields["video"]["frames_sampled"] == 1
        assert spans(fields, "labels") == [("Red", 0.0, duration)]


def test_the_pipeline_writes_nothing_until_the_last_window(tmp_path):
    """VideoContinued leaves the pipeline (the handler re-queues the event); the final pass writes the document."""
    data = write_video(tmp_path / "long.mkv", scenes(5, (solid(RED), 3), (solid((30, 200, 30)), 3), (solid(BLUE), 3)))
    storage, index = FakeStorage(), FakeIndex()
    pipeline = make_pipeline(ColourAnalyzer(), FakeFaces("Ada"))
    pipeline.storage, pipeline.index = storage, index
    pipeline.video = VideoIndexer(pipeline.analyzer, pipeline.faces, interval=1.0, state_store=MemoryStateStore(), time_left=lambda: 0.0,
                                  window_samples=4)
    storage.write("long.mkv", data)
    event = StorageEvent(CREATED, ObjectRef("media", "long.mkv"), sequencer="00A1")
    for expected_offset in (4.0, 8.0):
        with pytest.raises(VideoContinued) as progress:
            pipeline.handle(event)
        assert progress.value.next_start == expected_offset and index.live() == {}
    outcome = pipeline.handle(event)
    assert outcome.action == INDEXED
    doc = index.live()["long.mkv"]
    assert doc["video"]["frames_sampled"] == 9 and doc["sequencer"] == "00A1"
    assert spans(doc, "labels", "Red") == [("Red", 0, 3)] and spans(doc, "labels", "Blue") == [("Blue", 6, 9)]


# ---- following faces over the frames after each sample ----------------------------------------------------------
SQUARE = (60, 30, 90, 60)  # where the "face" is drawn, in a 160x96 frame


def square_frames(fps: int, seconds: float, looks: dict[int, int]) -> list:
    """Noise, another each second, with a grey square at SQUARE in the frames `looks` names (frame number within
    each second -> grey level): the face a detector sees in some frames after a sample and not in the sample."""
    frames = []
    for i in range(round(fps * seconds)):
        picture = noise(5 + i // fps).copy()
        level = looks.get(i % fps)
        if level is not None:
            picture.paste((level, level, level), SQUARE)
        frames.append(picture)
    return frames


class SquareFaceAnalyzer:
    """A FaceAnalyzer: one face where the square is (when it is drawn), whose one-number embedding is the square's
    brightness (0-1). `analyze` also gives a label; `analyze_faces` the faces alone."""

    name = "square"
    face_model = None

    def __init__(self) -> None:
        self.face_calls = 0

    def _faces(self, picture):
        region = picture.image.crop(SQUARE).convert("L")
        stat = ImageStat.Stat(region)
        if stat.stddev[0] > 12:  # noise, no square
            return []
        w, h = picture.image.size
        box = Box(SQUARE[0] / w, SQUARE[1] / h, (SQUARE[2] - SQUARE[0]) / w, (SQUARE[3] - SQUARE[1]) / h)
        return [Face(box, 99.0, embedding=[stat.mean[0] / 255])]

    def analyze(self, picture):
        return Analysis(self.name, labels=[Label("Scene", 90.0)], faces=self._faces(picture))

    def analyze_faces(self, picture, seen=None):
        self.face_calls += 1
        return self._faces(picture)


class BrightFaces(FakeFaces):  # the rest of the FaceCollection port from the fake
    """Known people by embedding: "Ada Lovelace" when a face's brightness is 0.8 or more. Keeps the pictures
    it was asked about and the faces it was told to remember."""

    def __init__(self) -> None:
        self.asked: list[tuple[float, list[float]]] = []  # (square brightness in the picture given, embedding)
        self.remembered: list[list[float] | None] = []

    def is_empty(self) -> bool:
        return False

    def identify(self, picture, faces):
        seen = ImageStat.Stat(picture.image.crop(SQUARE).convert("L")).mean[0] / 255
        self.asked += [(seen, list(f.embedding)) for f in faces]
        return [FaceMatch("Ada Lovelace", "face-ada", 90.0) if f.embedding[0] >= 0.8 else None for f in faces], 0

    def remember(self, content_sha256, faces):
        self.remembered += [f.embedding for f in faces]


def test_a_face_missed_in_the_sample_is_found_in_the_frames_after_it_and_named_on_its_mean(tmp_path):
    # 30 fps; the square is absent from each sample's frame (frame 0 of each second) and drawn 0.1 s after it
    # (grey 178, 0.70: below the bar alone) and 0.2 s after it (grey 242, 0.95): together 0.82
    data = write_video(tmp_path / "square.mp4", square_frames(30, 2, {3: 178, 6: 242}), fps=30)
    analyzer, known = SquareFaceAnalyzer(), BrightFaces()
    fields, _ = VideoIndexer(analyzer, known, interval=1.0, follow_frames=2)(stored(data))
    assert fields["video"]["frames_followed"] == 4 and analyzer.face_calls == 4
    assert spans(fields, "people") == [("Ada Lovelace", 0.0, 2.0)]
    [named] = [f for f in fields["faces"] if f["person"]]
    assert named["box"]["left"] == pytest.approx(60 / 160)
    # one question per sample, about the track's mean, on a frame the face was seen in (both looks are the same
    # size: the first)
    assert len(known.asked) == 2
    for brightness, embedding in known.asked:
        assert embedding[0] == pytest.approx((178 + 242) / 2 / 255, abs=0.03)
        assert brightness == pytest.approx(178 / 255, abs=0.03)
    assert known.remembered and known.remembered[0][0] == pytest.approx(0.82, abs=0.03)


def test_without_following_the_same_video_shows_nobody(tmp_path):
    data = write_video(tmp_path / "square.mp4", square_frames(30, 2, {3: 178, 6: 242}), fps=30)
    analyzer = SquareFaceAnalyzer()
    fields, _ = VideoIndexer(analyzer, BrightFaces(), interval=1.0, follow_frames=0)(stored(data))
    assert fields["faces"] == [] and fields["people"] == [] and analyzer.face_calls == 0
    assert fields["video"]["frames_followed"] == 0


def test_one_dim_look_alone_is_not_enough(tmp_path):
    data = write_video(tmp_path / "square.mp4", square_frames(30, 1, {3: 178}), fps=30)
    fields, _ = VideoIndexer(SquareFaceAnalyzer(), BrightFaces(), interval=1.0)(stored(data))
    assert fields["people"] == [] and len(fields["faces"]) == 1  # found, not named


def test_analyzers_without_faces_alone_are_not_followed(clip_bytes):
    """Rekognition has no FaceAnalyzer port: following would cost a DetectFaces call a frame."""
    fields, _ = VideoIndexer(BrightnessAnalyzer(), FakeFaces(), interval=1.0, follow_frames=2)(
        stored(clip_bytes))
    assert fields["video"]["frames_followed"] == 0


def test_follow_frames_from_settings_and_its_validation(monkeypatch):
    monkeypatch.setenv("MEDIAINDEX_VIDEO_FOLLOW_FRAMES", "4")
    settings = Settings.from_env()
    assert make_video_indexer(settings, SquareFaceAnalyzer()).follow_frames == 4
    assert Settings().video_follow_frames == 2
    with pytest.raises(ConfigurationError):
        VideoIndexer(SquareFaceAnalyzer(), follow_frames=-1)


def test_windows_with_following_merge_into_the_whole(tmp_path):
    """The last sample of a window is followed past the window's end, as in one pass."""
    data = write_video(tmp_path / "square.mp4", square_frames(30, 4, {3: 178, 6: 242}), fps=30)
    whole = VideoIndexer(SquareFaceAnalyzer(), BrightFaces(), interval=1.0).analyze_window(data, 0.0, None)
    indexer = VideoIndexer(SquareFaceAnalyzer(), BrightFaces(), interval=1.0)
    first = indexer.analyze_window(data, 0.0, 2.0)
    second = indexer.analyze_window(data, 2.0, None, previous=first)
    assert first.frames_followed == second.frames_followed == 4
    assert first.merge(second).to_fields() == whole.to_fields()
    assert whole.to_fields()["video"]["segments"]["people"] == [{"name": "Ada Lovelace", "start": 0.0, "end": 4.0}]
