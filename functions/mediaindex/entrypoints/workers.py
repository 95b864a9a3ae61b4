"""The workers of `mediaindex index` and `watch`: what each worker process is set up with (its own pipeline, one
core, its stderr, dying with its parent), and the wiring of the bulk use case (services/bulk.py) to them.

`WorkerSpec` is everything a worker needs to build its pipeline, picklable so that spawned processes build their
own. Its `factory` ("module:function", called with (settings, storage) and returning a `bootstrap.App`) replaces
`bootstrap.build_app`: a plug-in point, and how tests run worker processes with a fake analyzer.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Iterable

from mediaindex.adapters.own_files import open_regular
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError, MediaIndexError
from mediaindex.domain.messages import StorageEvent
from mediaindex.domain.vocabulary import Action
from mediaindex.ports import Index, Storage, VideoProgress
from mediaindex.services.bulk import BulkIndexer, BulkSummary, IndexRoot, outcome_dict
from mediaindex.services.runner import Handle

_BYTES_PER_WORKER = 1 << 30  # the local models take about 1 GB a process at their peak


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to build its pipeline; picklable, so worker processes build their own."""

    settings: Settings
    factory: str | None = None  # "module:function" instead of bootstrap.build_app (see the module docstring)
    log_level: int = logging.WARNING  # of the "mediaindex" loggers in workers (the summary lists failures anyway)
    # where worker processes write their stderr (the models' native libraries print there, which would tear the
    # progress bar); None: the terminal
    stderr_path: str | None = None
    # False (--force): analyse every file, even bytes analysed before under another name or with other settings
    reuse_analysis: bool = True


def default_storage(settings: Settings) -> Storage:
    """Folders and S3; no file is read past the largest the pipeline would take (a video's limit, pictures being
    far smaller), whatever its size claims."""
    from mediaindex.bootstrap import build_app

    return build_app(settings).storage


def build_handle(spec: WorkerSpec, storage: Storage | None = None) -> Handle:
    """The pipeline's handler, as this worker (or the parent, inline) runs it."""
    storage = storage or default_storage(spec.settings)
    if spec.factory:
        module_name, _, attr = spec.factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigurationError(f"app factory {spec.factory!r} not found: {e}") from None
        app = factory(spec.settings, storage)
    else:
        from mediaindex.bootstrap import build_app

        app = build_app(spec.settings, storage=storage)
    app.pipeline.reuse_analysis = spec.reuse_analysis
    return app.pipeline.handle


def default_workers(analyzer: str) -> int:
    """Cores for the local models, without going past the memory their processes need; more for Rekognition,
    whose calls mostly wait on the network."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    if analyzer == "rekognition":
        return min(32, cores * 4)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return max(1, min(cores, memory // _BYTES_PER_WORKER))
    except (ValueError, OSError, AttributeError):
        return max(1, cores)


# ---- in each worker process ----------------------------------------------------------------------------------------
_worker_handle: Handle | None = None
_worker_init_error: str | None = None


def _die_with_parent() -> None:
    """Linux: end this worker when the process that started it dies (even by SIGKILL), never orphan it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _init_worker(spec: WorkerSpec, parent: int, progress: Any = None) -> None:
    global _worker_handle, _worker_init_error
    logging.getLogger("mediaindex").setLevel(spec.log_level)
    if progress is not None:  # a queue to the parent: how far the video in hand has got, for its progress bar
        from mediaindex.services import video

        video.set_progress_reporter(lambda key, done, duration: _put_progress(progress, key, done, duration))
    if spec.stderr_path:
        try:
            os.makedirs(os.path.dirname(spec.stderr_path) or ".", exist_ok=True)
            with open_regular(spec.stderr_path, "ab") as log_file:  # a named pipe there would block the open
                os.dup2(log_file.fileno(), 2)
        except OSError:
            pass  # the terminal, then
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it lets running files finish
    # the parent waits for its workers to end: they do without freeing their models first (entrypoints/fast_exit.py)
    atexit.register(_end_worker)
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before we could ask to die with it
        os._exit(1)
    _one_core_each()
    try:
        _worker_handle = build_handle(spec)
    except Exception as e:  # noqa: BLE001 - told to the parent by _ping, which stops the run with it
        _worker_init_error = str(e) if isinstance(e, MediaIndexError) else f"{type(e).__name__}: {e}"


def _end_worker() -> None:
    from mediaindex.entrypoints.fast_exit import exit_now

    exit_now(0)


def _one_core_each() -> None:
    """N processes each spreading over every core only fight for them: one thread of numeric work a worker."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    if importlib.util.find_spec("numpy") is None:  # no local extra, so no local models whose threads to limit
        return
    from mediaindex.adapters.analysis.local import models

    models.set_threads(1)


def _put_progress(progress: Any, key: str, done: float, duration: float) -> None:
    try:
        progress.put_nowait((key, done, duration))
    except (queue.Full, OSError, ValueError):  # a full or closed queue costs a bar update, nothing more
        pass


def _ping() -> str | None:
    """Run in a new pool first: None when the worker built its pipeline, else why it could not."""
    return _worker_init_error


def _run_in_worker(event: StorageEvent) -> dict[str, Any]:
    if _worker_handle is None:
        return {"action": Action.ERROR, "bucket": event.ref.bucket, "key": event.ref.key,
                "reason": f"the worker could not start: {_worker_init_error}"}
    return outcome_dict(_worker_handle, event)


# ---- in the parent -------------------------------------------------------------------------------------------------
class SpawnedWorkers:
    """The bulk use case's worker processes: spawned (a fresh interpreter per worker, never a fork of a process
    that holds threads and connections), each set up by `_init_worker`; how far each is into a video comes back
    over a queue that a thread here relays."""

    task = staticmethod(_run_in_worker)

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self._context = multiprocessing.get_context("spawn")
        self._progress: Any = None  # worker processes -> the parent: video progress
        self._relay: threading.Thread | None = None
        self._relay_stop = threading.Event()

    def start(self, workers: int, report: VideoProgress | None = None) -> Executor:
        """A pool whose workers have built their pipelines; ConfigurationError when they could not."""
        if report is not None and self._progress is None:
            self._progress = self._context.Queue(maxsize=10_000)
            self._relay_stop.clear()
            self._relay = threading.Thread(target=self._relay_progress, args=(report,), name="bulk-progress",
                                           daemon=True)
            self._relay.start()
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=self._context, initializer=_init_worker,
                                   initargs=(self.spec, os.getpid(), self._progress))
        # One ping a worker: the pool starts a process for each task no idle process can take, so every worker
        # loads its models at once; files go out as soon as the first is ready (with one ping, the second worker
        # started only when the first had loaded, and a core stood idle meanwhile). A worker that cannot build its
        # pipeline answers each file with why (_run_in_worker).
        pings = [pool.submit(_ping) for _ in range(workers)]
        try:
            error = next(as_completed(pings)).result()
        except BrokenProcessPool:
            error = "the worker process died while starting"
        if error:
            pool.shutdown(wait=False, cancel_futures=True)
            raise ConfigurationError(f"the worker processes could not start: {error}")
        return pool

    def terminate(self, pool: Executor) -> None:
        """End the pool's processes now (a second Ctrl-C: their files are not finished)."""
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()

    def close(self) -> None:
        """The run is over and the workers are gone: read what they still sent, then stop relaying."""
        if self._relay is not None:
            self._relay_stop.set()
            self._relay.join(timeout=2)
            self._relay = None
        if self._progress is not None:
            self._progress.close()
            self._progress = None

    def _relay_progress(self, report: VideoProgress) -> None:
        while True:
            try:
                key, done, duration = self._progress.get(timeout=0.2)
            except queue.Empty:
                if self._relay_stop.is_set():  # the workers are gone and what they sent is read
                    return
                continue
            except (OSError, ValueError, EOFError, AttributeError):  # the queue closed under us: the run is over
                return
            report(key, done, duration)


def bulk_indexer(index: Index, spec: WorkerSpec, storage: Storage | None = None, **options: Any) -> BulkIndexer:
    """The bulk use case wired to this machine's workers: `storage` lists (default: folders and S3), the handler
    is built from `spec` when first needed, worker processes from `spec` too."""
    storage = storage or default_storage(spec.settings)
    return BulkIndexer(index=index, storage=storage, make_handle=lambda: build_handle(spec, storage),
                       processes=SpawnedWorkers(spec), **options)


def index_paths(paths: Iterable[str], settings: Settings, **options: Any) -> BulkSummary:
    """`mediaindex index` as a function: index these folders, files and s3:// prefixes with `settings`."""
    from mediaindex import bootstrap

    roots = [IndexRoot.parse(p) for p in paths]
    index = options.pop("index", None) or bootstrap.build_app(settings).index
    index.ensure_ready()
    spec = options.pop("spec", None) or WorkerSpec(settings)
    options.setdefault("analyzer_name", None if spec.factory else settings.analyzer)
    options.setdefault("face_model", None if spec.factory else bootstrap.face_model(settings))
    options.setdefault("meaning_model", None if spec.factory else bootstrap.meaning_model(settings))
    options.setdefault("reads_text", not spec.factory and settings.has("text"))
    options.setdefault("threads", settings.analyzer == "rekognition")
    if not spec.factory and "needs_analysis" not in options:
        app = bootstrap.build_app(settings, index=index)
        if app.vectors is not None:
            options["needs_analysis"] = app.pipeline.look_missing
    return bulk_indexer(index, spec, **options).run(roots)
