"""Pipeline factories for `--pipeline-factory` (the bulk runner's plug-in point), so CLI subprocesses and their
worker processes run with a fake analyzer instead of loading the local models. The real models have their own
tests here (marked `models`)."""

from __future__ import annotations

import os
import time

from mediaindex import bootstrap
from mediaindex.services.indexing import Pipeline
from tests.fakes import FakeAnalyzer


class SlowFakeAnalyzer(FakeAnalyzer):
    """The fake analyzer, taking FAKE_ANALYZER_DELAY seconds a picture (so a test can kill a run midway)."""

    def analyze(self, picture):
        time.sleep(float(os.environ.get("FAKE_ANALYZER_DELAY", "0")))
        return super().analyze(picture)


def fake_pipeline(settings, storage):
    index = bootstrap.build_index(settings)
    index.ensure_ready()
    return Pipeline(storage=storage, analyzer=SlowFakeAnalyzer(), index=index).handle


def crashing_pipeline(settings, storage):
    """The fake pipeline, except that a file whose name contains "crash" kills the worker process outright (as a
    segfault in a model, or the kernel's OOM killer, would)."""
    import signal

    handle = fake_pipeline(settings, storage)

    def crashing(event):
        if "crash" in os.path.basename(event.ref.key):
            os.kill(os.getpid(), signal.SIGKILL)
        return handle(event)

    return crashing


def broken_pipeline(settings, storage):
    raise RuntimeError("no models here")


def video_pipeline(settings, storage):
    """The fake analyzer on pictures and on a video's sampled frames (the frames are really decoded)."""
    from mediaindex.services.video import make_video_indexer

    index = bootstrap.build_index(settings)
    index.ensure_ready()
    pipeline = Pipeline(storage=storage, analyzer=SlowFakeAnalyzer(), index=index)
    pipeline.video = make_video_indexer(settings, pipeline)
    return pipeline.handle
