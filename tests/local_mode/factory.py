"""App factories for `--app-factory` (the bulk runner's plug-in point, entrypoints/workers.py), so CLI subprocesses
and their worker processes run with a fake analyzer instead of loading the local models: each returns
`bootstrap.build_app` with the fake in place. The real models have their own tests here (marked `models`)."""

from __future__ import annotations

import os
import signal
import time

from mediaindex.bootstrap import ABSENT, build_app
from tests.fakes import FakeAnalyzer


class SlowFakeAnalyzer(FakeAnalyzer):
    """The fake analyzer, taking FAKE_ANALYZER_DELAY seconds a picture (so a test can kill a run midway). With
    FAKE_ANALYZER_GATE (a path) and FAKE_ANALYZER_FREE (a number), each process analyses that many pictures and then
    waits for the gate file to exist: a run is held midway until the test has done what it wants there, however
    fast or slow the machine."""

    analysed = 0

    def analyze(self, picture):
        time.sleep(float(os.environ.get("FAKE_ANALYZER_DELAY", "0")))
        gate = os.environ.get("FAKE_ANALYZER_GATE")
        if gate and SlowFakeAnalyzer.analysed >= int(os.environ.get("FAKE_ANALYZER_FREE", "0")):
            while not os.path.exists(gate):
                time.sleep(0.02)
        SlowFakeAnalyzer.analysed += 1
        return super().analyze(picture)


class CrashingStorage:
    """Storage that kills its process outright when it reads a file whose name contains "crash" (as a segfault in
    a model, or the kernel's OOM killer, would)."""

    def __init__(self, storage):
        self.storage = storage

    def read(self, ref):
        if "crash" in os.path.basename(ref.key):
            os.kill(os.getpid(), signal.SIGKILL)
        return self.storage.read(ref)

    def exists(self, ref):
        return self.storage.exists(ref)

    def list(self, bucket, prefix=""):
        return self.storage.list(bucket, prefix)


def fake_app(settings, storage):
    """The pipeline with the fake analyzer and no face collection; videos are really decoded and their sampled
    frames given to the fake analyzer."""
    return build_app(settings, storage=storage, analyzer=SlowFakeAnalyzer(), faces=ABSENT)


def crashing_app(settings, storage):
    return fake_app(settings, CrashingStorage(storage))


def broken_app(settings, storage):
    raise RuntimeError("no models here")


def rendezvous_app(settings, storage):
    """The fake app, built only once every worker of the run is building its own (WORKERS_RENDEZVOUS: a folder,
    WORKERS_EXPECTED: how many): the workers load together, or the run stops with the reason."""
    folder, expected = os.environ["WORKERS_RENDEZVOUS"], int(os.environ["WORKERS_EXPECTED"])
    open(os.path.join(folder, str(os.getpid())), "w").close()
    waited = 0.0
    while len(os.listdir(folder)) < expected:
        if waited > 120:  # not a deadline the test races: without it, a pool that starts workers one by one hangs
            raise RuntimeError(f"only {len(os.listdir(folder))} of {expected} workers were started together")
        time.sleep(0.05)
        waited += 0.05
    return fake_app(settings, storage)
