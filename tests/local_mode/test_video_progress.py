"""`mediaindex index` tells how far into a video it is: the video indexer reports the seconds analysed, the bulk
runner relays them (from worker processes through a queue), and the progress bar shows them. The clip's frames
are really decoded; the fake analyzer stands in for the models."""

from __future__ import annotations

import io
import shutil

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.entrypoints.cli.index import Progress
from mediaindex.entrypoints.workers import WorkerSpec, bulk_indexer
from mediaindex.services.bulk import IndexRoot


@pytest.fixture
def library(tmp_path, video_path, images_dir):
    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copyfile(video_path, folder / video_path.name)
    shutil.copyfile(images_dir / "n01440764_tench.JPEG", folder / "tench.jpg")
    settings = Settings(home=tmp_path / "home", index_url=f"sqlite:///{tmp_path / 'index.db'}", video_interval=2.0)
    index = SqliteIndex(str(tmp_path / "index.db"), "media")
    index.ensure_ready()
    return settings, folder, index


@pytest.mark.parametrize("workers", [1, 2])
def test_the_seconds_of_a_video_analysed_reach_the_progress_callback(library, workers):
    settings, folder, index = library
    events: list[tuple[str, object]] = []
    runner = bulk_indexer(index=index, spec=WorkerSpec(settings, factory="tests.local_mode.factory:fake_app"),
                              workers=workers, on_progress=lambda kind, value: events.append((kind, value)))
    summary = runner.run([IndexRoot.parse(str(folder))])
    assert summary.outcomes["indexed"] == 2
    clip = str(folder / "short_hamilton_clip.mp4")
    seen = [value for kind, value in events if kind == "video"]
    assert seen and {v["key"] for v in seen} == {clip}  # a picture reports nothing
    done = [v["done"] for v in seen]
    duration = index.get(docs.document_id("", clip)).doc["video"]["duration"]
    assert len(done) >= 4 and done == sorted(done)  # a sample every 2 s, in order
    assert done[-1] == pytest.approx(duration) and all(v["duration"] == pytest.approx(duration) for v in seen)
    if workers == 1:  # in this process each report comes before the file's "done" (a worker's may come after)
        order = [(kind, value.get("key") if isinstance(value, dict) else None) for kind, value in events]
        assert max(i for i, e in enumerate(order) if e == ("video", clip)) < order.index(("done", clip))


def test_the_bar_shows_the_video_in_hand_and_forgets_it_when_done():
    out = io.StringIO()
    progress = Progress(enabled=True, file=out)
    assert progress.bar is not None
    progress("total", 2)
    progress("video", {"key": "/media/2024/holiday/a_rather_long_video_name.mp4", "done": 12.0, "duration": 75.5})
    assert progress.postfix() == "a_rather_long_video_nam… 0:12/1:15"
    progress("video", {"key": "/media/b.mov", "done": 3725.0, "duration": 0.0})  # no duration in the header
    assert progress.postfix() == "a_rather_long_video_nam… 0:12/1:15, b.mov 1:02:05"
    progress("done", {"action": "failed", "key": "/media/2024/holiday/a_rather_long_video_name.mp4"})
    assert progress.postfix() == "failed=1, b.mov 1:02:05"
    progress("done", {"action": "indexed", "key": "/media/b.mov"})
    assert progress.postfix() == "failed=1"
    progress("video", {"key": "/media/b.mov", "done": 3725.0, "duration": 0.0})  # late, from a worker: dropped
    assert progress.postfix() == "failed=1"
    progress.close()
    assert "b.mov 1:02:05" in out.getvalue()
