"""Index many files at once: folders (recursively), single files and `s3://bucket/prefix`, in parallel.

What a run does:
- lists every source and looks up what the index already holds, in pages; a file whose listing etag and size
  equal its document's (indexed or failed, by the same analyzer) is skipped without being read;
- hands the rest to workers: processes for the local models (CPU-bound; each process loads the models once and
  keeps them), threads for Rekognition (network-bound), or this process alone with one worker;
- each file's document is written by `Pipeline.handle` in its own committed write, so a run killed at any point
  (Ctrl-C, SIGKILL, a crash) loses nothing finished, and the same command again skips what is done. No state file;
- with `prune`, documents of files that are no longer listed under a source become tombstones (only after a
  complete listing: an interrupted run never prunes).

The same runner serves `mediaindex index` and any other bulk entry point: give it `Source`s and a `WorkerSpec`.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from mediaindex.adapters.storage.routing import RoutingStorage
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain import freshness
from mediaindex.domain.errors import ConfigurationError, MediaIndexError, VersionConflict
from mediaindex.ports import Index, ObjectInfo, ObjectRef, Storage
from mediaindex.services.index_io import documents_by_id
from mediaindex.services.indexing import CREATED, REMOVED, Outcome, StorageEvent

log = logging.getLogger(__name__)

LIST_PAGE = 256  # files looked up in the index at once
MAX_FAILURES_KEPT = 1000  # failed files listed in a summary (the count is always exact)
_BYTES_PER_WORKER = 1 << 30  # the local models take about 1 GB a process at their peak

Handle = Callable[[StorageEvent], Outcome]


# ---- sources -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """One PATH argument: a folder or file on this machine (bucket ""), or an S3 bucket and key prefix."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, text: str) -> "Source":
        if text.startswith("s3://"):
            bucket, _, prefix = text[len("s3://"):].partition("/")
            if not bucket:
                raise ConfigurationError(f"{text!r} names no bucket: write s3://bucket[/prefix]")
            return cls(bucket, prefix)
        path = os.path.abspath(os.path.expanduser(text))  # normalised ("a/../b" is b), symlinks kept as named
        if not os.path.exists(path):
            raise ConfigurationError(f"{text}: no such file or folder")
        return cls("", path)

    @property
    def is_local(self) -> bool:
        return not self.bucket

    def __str__(self) -> str:
        return self.prefix if self.is_local else f"s3://{self.bucket}/{self.prefix}"

    def covers(self, doc: dict[str, Any]) -> bool:
        """Is this document's file under this source (so a complete listing of the source must have listed it)?"""
        if (doc.get("bucket") or "") != self.bucket:
            return False
        key = str(doc.get("key") or "")
        if self.is_local:
            return key == self.prefix or key.startswith(self.prefix.rstrip(os.sep) + os.sep)
        return key.startswith(self.prefix)


# ---- workers -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to build its pipeline; picklable, so worker processes build their own.

    `factory` ("module:function", called with (settings, storage) and returning a handle callable) replaces
    `bootstrap.build_pipeline`: a plug-in point, and how tests run worker processes with a fake analyzer."""

    settings: Settings
    factory: str | None = None
    log_level: int = logging.WARNING  # of the "mediaindex" loggers in workers (the summary lists failures anyway)
    # where worker processes write their stderr (the models' native libraries print there, which would tear the
    # progress bar); None: the terminal
    stderr_path: str | None = None
    # False (--force): analyse every file, even bytes analysed before under another name or with other settings
    reuse_analysis: bool = True


def default_storage(settings: Settings) -> Storage:
    """Folders and S3; no file is read past the largest the pipeline would take (a video's limit, pictures being
    far smaller), whatever its size claims."""
    from mediaindex.adapters.storage.folder import FolderStorage

    return RoutingStorage(folder=FolderStorage(max_object_bytes=settings.max_video_bytes,
                                               limit_setting="MEDIAINDEX_MAX_VIDEO_BYTES"))


def build_handle(spec: WorkerSpec, storage: Storage | None = None) -> Handle:
    storage = storage or default_storage(spec.settings)
    if spec.factory:
        module_name, _, attr = spec.factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigurationError(f"pipeline factory {spec.factory!r} not found: {e}") from None
        return factory(spec.settings, storage)
    from mediaindex import bootstrap

    pipeline = bootstrap.build_pipeline(spec.settings, storage=storage)
    pipeline.reuse_analysis = spec.reuse_analysis
    return pipeline.handle


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
            os.dup2(os.open(spec.stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 2)
        except OSError:
            pass  # the terminal, then
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it lets running files finish
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before we could ask to die with it
        os._exit(1)
    # one core per worker: N processes each spreading over every core only fight for them
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    try:
        from mediaindex.adapters.analysis.local import models  # noqa: PLC0415 - optional (local extra)

        models.set_threads(1)
    except ImportError:
        pass
    try:
        _worker_handle = build_handle(spec)
    except Exception as e:  # noqa: BLE001 - told to the parent by _ping, which stops the run with it
        _worker_init_error = str(e) if isinstance(e, MediaIndexError) else f"{type(e).__name__}: {e}"


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
        return {"action": "error", "bucket": event.ref.bucket, "key": event.ref.key,
                "reason": f"the worker could not start: {_worker_init_error}"}
    return _outcome_dict(_worker_handle, event)


def _outcome_dict(handle: Handle, event: StorageEvent) -> dict[str, Any]:
    """The outcome as plain data (crosses process boundaries); an exception becomes an `error` outcome."""
    try:
        return handle(event).to_dict()
    except Exception as e:  # noqa: BLE001 - one file's fault must not stop the run: report it, with its reason
        reason = str(e) if isinstance(e, MediaIndexError) else f"{type(e).__name__}: {e}"
        log.warning("%s: %s", event.ref, reason)
        return {"action": "error", "bucket": event.ref.bucket, "key": event.ref.key, "reason": reason[:500]}


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


# ---- the summary ---------------------------------------------------------------------------------------------------
@dataclass
class BulkSummary:
    sources: list[str]
    workers: int = 1
    mode: str = "inline"
    listed: int = 0
    unchanged: int = 0  # skipped from the listing alone
    outcomes: Counter = field(default_factory=Counter)  # Outcome.action -> count, "error" for exceptions
    failures: list[dict[str, Any]] = field(default_factory=list)  # {"key", "reason", "action"}
    removed: int = 0  # tombstones written by --prune
    elapsed_s: float = 0.0
    interrupted: bool = False
    complete: bool = False  # every source listed to its end and every listed file handled

    @property
    def processed(self) -> int:
        return sum(n for action, n in self.outcomes.items() if action != "removed")

    def to_dict(self) -> dict[str, Any]:
        o = self.outcomes
        rate = self.processed / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return {
            "sources": self.sources,
            "workers": self.workers,
            "mode": self.mode,
            "listed": self.listed,
            "indexed": o["indexed"],
            "reused": o["reused"],
            "unchanged": self.unchanged + o["unchanged"],
            "failed": o["failed"],
            "errors": o["error"],
            "gone": o["gone"],
            "skipped_other": o["stale"] + o["duplicate"],
            "removed": self.removed,
            "failures": self.failures,
            "elapsed_s": round(self.elapsed_s, 3),
            "files_per_s": round(rate, 2),
            "interrupted": self.interrupted,
            "complete": self.complete,
        }


def is_unchanged(info: ObjectInfo, doc: dict[str, Any] | None, analyzer: str | None,
                 face_model: str | None = None) -> bool:
    """The pipeline's own UNCHANGED rule (domain/freshness.py), decided from the listing. `analyzer` None: the
    workers' analyzer comes from a factory this process does not know, so any analyzer counts."""
    return freshness.is_unchanged(doc, etag=info.etag, size=info.size, analyzer=analyzer, face_model=face_model)


# ---- the runner ----------------------------------------------------------------------------------------------------
_DONE = object()


@dataclass
class BulkIndexer:
    """List, skip what is current, index the rest over `workers`, optionally prune; see the module docstring."""

    index: Index
    spec: WorkerSpec
    workers: int = 1
    threads: bool = False  # threads instead of processes (Rekognition)
    storage: Storage | None = None  # what the parent lists with (and, inline or threaded, what workers read)
    force: bool = False  # analyse again even when unchanged
    retry_failed: bool = False  # analyse files whose document says failed, even when unchanged
    prune: bool = False
    analyzer_name: str | None = None  # None: do not compare analyzers when deciding "unchanged"
    face_model: str | None = None  # documents with face vectors of another model are analysed again
    # ("total", n) / ("done", outcome dict) / ("video", {"key", "done", "duration"}: seconds of a video analysed)
    on_progress: Callable[[str, Any], None] | None = None
    handle: Handle | None = None  # inline/threaded: an already built handler (tests, reuse)

    def __post_init__(self) -> None:
        self.storage = self.storage or default_storage(self.spec.settings)
        self._stop = threading.Event()
        self._pool: Executor | None = None
        self._progress_queue: Any = None  # worker processes -> the parent: video progress
        self._relay_stop = threading.Event()

    @property
    def mode(self) -> str:
        if self.workers <= 1:
            return "inline"
        return "threads" if self.threads else "processes"

    # -- listing (a background thread, so the total and the ETA are known early) --
    def _list(self, sources: list[Source], out: "queue.Queue[Any]", state: dict[str, Any]) -> None:
        try:
            for source in sources:
                page: list[ObjectInfo] = []
                for info in self.storage.list(source.bucket, source.prefix):  # type: ignore[union-attr]
                    if self._stop.is_set():
                        return
                    if self.prune:  # what a complete listing saw: everything else under the source vanished
                        key = docs.storable_text(info.ref.key)  # as documents hold it
                        state["seen"].add(key if source.is_local else (info.ref.bucket, key))
                    page.append(info)
                    if len(page) >= LIST_PAGE:
                        self._dispatch_page(page, out, state)
                        page = []
                if page:
                    self._dispatch_page(page, out, state)
            state["listed_all"] = True
        except BaseException as e:  # noqa: BLE001 - handed to the main thread, which reports it
            state["error"] = e
        finally:
            out.put(_DONE)

    def _dispatch_page(self, page: list[ObjectInfo], out: "queue.Queue[Any]", state: dict[str, Any]) -> None:
        ids = [docs.document_id(i.ref.bucket, i.ref.key) for i in page]
        current = {} if self.force else documents_by_id(self.index, ids)
        wanted = []
        for info, doc_id in zip(page, ids):
            doc = current.get(doc_id)
            if is_unchanged(info, doc, self.analyzer_name, self.face_model) and not (
                self.retry_failed and doc is not None and doc.get("status") == docs.FAILED
            ):
                state["unchanged"] += 1
                continue
            wanted.append(info)
        state["listed"] += len(page)
        if wanted and self.on_progress:
            self.on_progress("total", len(wanted))
        for info in wanted:
            out.put(info)

    def _event(self, info: ObjectInfo) -> StorageEvent:
        skip_check = self.force or self.retry_failed
        return StorageEvent(
            kind=CREATED, ref=info.ref, etag=None if skip_check else info.etag,
            size=None if skip_check else info.size, event_name="ObjectCreated:Put", event_time=docs.now_iso(),
        )

    # -- the run --
    def run(self, sources: Iterable[Source]) -> BulkSummary:
        sources = list(sources)
        summary = BulkSummary(sources=[str(s) for s in sources], workers=max(1, self.workers), mode=self.mode)
        started = time.monotonic()
        state: dict[str, Any] = {"seen": set(), "listed": 0, "unchanged": 0, "listed_all": False, "error": None}
        # roomy, so a folder is listed (and the total known) long before the work is done; bounded for huge buckets
        work: "queue.Queue[Any]" = queue.Queue(maxsize=100_000)
        lister = threading.Thread(target=self._list, args=(sources, work, state), name="bulk-list", daemon=True)
        lister.start()
        running: dict[Future, ObjectInfo] = {}
        reporter = None
        if self.on_progress is not None:
            from mediaindex.services import video

            reporter = threading.Thread(target=self._relay_progress, name="bulk-progress", daemon=True)
            if self.mode == "processes":
                import multiprocessing

                self._progress_queue = multiprocessing.get_context("spawn").Queue(maxsize=10_000)
                reporter.start()
            else:  # workers in this process tell the bar directly
                video.set_progress_reporter(self._video_progress)
                reporter = None
        try:
            self._pool = self._executor()
            self._loop(work, running, summary)
        except KeyboardInterrupt:
            summary.interrupted = True
            self._stop.set()
            self._finish_running(self._pool, running, summary)
        finally:
            self._stop.set()
            if self._pool is not None:
                self._pool.shutdown(wait=not summary.interrupted, cancel_futures=True)
            if self.on_progress is not None:
                from mediaindex.services import video

                video.set_progress_reporter(None)
            if reporter is not None:
                self._relay_stop.set()
                reporter.join(timeout=2)
                self._progress_queue.close()
                self._progress_queue = None
            summary.listed, summary.unchanged = state["listed"], state["unchanged"]
        if state["error"] is not None:
            raise state["error"]
        summary.complete = state["listed_all"] and not summary.interrupted
        if self.prune and summary.complete:
            self._prune(sources, state["seen"], summary)
        self.index.refresh()  # OpenSearch: searchable as soon as the command returns
        summary.elapsed_s = time.monotonic() - started
        return summary

    def _video_progress(self, key: str, done: float, duration: float) -> None:
        if self.on_progress is not None:
            self.on_progress("video", {"key": key, "done": done, "duration": duration})

    def _relay_progress(self) -> None:
        """From the worker processes' queue to `on_progress`, until the workers have stopped and all they sent
        is read."""
        while True:
            try:
                key, done, duration = self._progress_queue.get(timeout=0.2)
            except queue.Empty:
                if self._relay_stop.is_set():  # the workers are gone and what they sent is read
                    return
                continue
            except (OSError, ValueError, EOFError):  # the queue closed under us: the run is over
                return
            self._video_progress(key, done, duration)

    def _executor(self) -> Executor | None:
        if self.workers <= 1:
            if self.handle is None:
                self.handle = build_handle(self.spec, self.storage)
            return None
        if self.threads:
            if self.handle is None:
                self.handle = build_handle(self.spec, self.storage)
            return ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="bulk")
        return self._process_pool(self.workers)

    def _process_pool(self, workers: int) -> ProcessPoolExecutor:
        import multiprocessing

        # spawn: a fresh interpreter per worker, never a fork of a process that holds threads and connections
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(self.spec, os.getpid(), self._progress_queue),
        )
        try:
            error = pool.submit(_ping).result()
        except BrokenProcessPool:
            error = "the worker process died while starting"
        if error:
            pool.shutdown(wait=False, cancel_futures=True)
            raise ConfigurationError(f"the worker processes could not start: {error}")
        return pool

    def _submit(self, info: ObjectInfo) -> Future:
        executor = self._pool
        event = self._event(info)
        if executor is None:
            future: Future = Future()
            future.set_result(_outcome_dict(self.handle, event))  # type: ignore[arg-type]
            return future
        if self.threads:
            return executor.submit(_outcome_dict, self.handle, event)
        return executor.submit(_run_in_worker, event)

    def _loop(self, work: "queue.Queue[Any]", running: dict[Future, ObjectInfo], summary: BulkSummary) -> None:
        window = max(1, self.workers) * 2
        while True:
            item = work.get()
            if item is _DONE:
                break
            while len(running) >= window:
                self._collect(running, summary, block=True)
            running[self._submit(item)] = item
            self._collect(running, summary, block=False)
        while running:
            self._collect(running, summary, block=True)

    def _collect(self, running: dict[Future, ObjectInfo], summary: BulkSummary, block: bool) -> None:
        if not running:
            return
        done, _ = wait(list(running), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            if future not in running:  # already handed to _recover with the rest of a broken pool
                continue
            info = running.pop(future)
            if future.cancelled():
                continue
            try:
                result = future.result()
            except BrokenProcessPool:
                for other, other_info in list(running.items()):  # finished before the pool broke: keep those
                    if other.done() and not other.cancelled() and other.exception() is None:
                        self._record(other.result(), summary)
                        running.pop(other)
                suspects = [info, *running.values()]
                running.clear()
                self._recover(suspects, summary)
                return
            self._record(result, summary)

    def _recover(self, suspects: list[ObjectInfo], summary: BulkSummary) -> None:
        """A worker process died (a model crashed on some file, or the machine ran out of memory), taking every
        file in flight with it. Run those files again one at a time, each in a fresh single worker: the file that
        kills its worker again gets a `failed` document saying so (and is not retried until it changes); the
        others are indexed. Then go on with a full pool."""
        log.warning("a worker process died; running the %d file(s) it may have died on one at a time", len(suspects))
        assert self._pool is not None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._process_pool(1)
        for info in suspects:
            try:
                self._record(self._pool.submit(_run_in_worker, self._event(info)).result(), summary)
            except BrokenProcessPool:
                self._record(self._write_crashed(info), summary)
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._process_pool(1)
        self._pool.shutdown(wait=True)
        self._pool = self._process_pool(self.workers)

    def _write_crashed(self, info: ObjectInfo) -> dict[str, Any]:
        """A `failed` document for a file whose analysis kills the process, so that a rerun skips it."""
        reason = ("crashed: the analysis of this file ended its worker process (a crash in a model, or out of "
                  "memory); it is skipped until it changes (--retry-failed tries again)")
        doc_id = docs.document_id(info.ref.bucket, info.ref.key)
        doc = {
            **docs.base_document(info.ref.bucket, info.ref.key, None), "status": docs.FAILED, "error": reason,
            "size": info.size, "etag": info.etag, "last_modified": info.last_modified, "face_count": 0,
        }
        result = {"action": "failed", "bucket": info.ref.bucket, "key": info.ref.key, "reason": reason}
        for _ in range(8):
            current = self.index.get(doc_id)
            try:
                self.index.put(doc, current.version if current else None)
                return result
            except VersionConflict:
                continue
            except MediaIndexError:
                break
        return {**result, "action": "error"}  # not recorded: the next run tries the file again

    def _record(self, result: dict[str, Any], summary: BulkSummary) -> None:
        action = result["action"]
        summary.outcomes[action] += 1
        if action in ("failed", "error") and len(summary.failures) < MAX_FAILURES_KEPT:
            ref = ObjectRef(result.get("bucket") or "", result["key"])
            summary.failures.append({"key": str(ref), "action": action, "reason": result.get("reason")})
        if self.on_progress:
            self.on_progress("done", result)

    def _finish_running(self, executor: Executor | None, running: dict[Future, ObjectInfo],
                        summary: BulkSummary) -> None:
        """After Ctrl-C: drop what has not started, let running files finish (a second Ctrl-C abandons them;
        their documents are simply not written, and the next run does them)."""
        for future in list(running):
            if future.cancel():
                running.pop(future)
        try:
            while running:
                self._collect(running, summary, block=True)
        except KeyboardInterrupt:
            if isinstance(executor, ProcessPoolExecutor):
                for process in list(getattr(executor, "_processes", {}).values()):
                    process.terminate()
            running.clear()

    # -- prune --
    def _prune(self, sources: list[Source], seen: set[Any], summary: BulkSummary) -> None:
        vanished = [
            doc for doc in self.index.iter_documents()
            if doc.get("status") != docs.DELETED
            and any(s.covers(doc) for s in sources)
            and ((doc.get("key") if not doc.get("bucket") else (doc.get("bucket"), doc.get("key"))) not in seen)
        ]
        if not vanished:
            return
        handle = self.handle or build_handle(self.spec, self.storage)
        self.handle = handle
        for doc in vanished:
            event = StorageEvent(kind=REMOVED, ref=ObjectRef(doc.get("bucket") or "", doc["key"]),
                                 event_name="ObjectRemoved:Delete", event_time=docs.now_iso())
            result = _outcome_dict(handle, event)
            if result["action"] == "removed":
                summary.removed += 1
            elif result["action"] == "error":
                self._record(result, summary)


def index_paths(paths: Iterable[str], settings: Settings, **options: Any) -> BulkSummary:
    """`mediaindex index` as a function: index these folders, files and s3:// prefixes with `settings`."""
    from mediaindex import bootstrap

    sources = [Source.parse(p) for p in paths]
    index = options.pop("index", None) or bootstrap.build_index(settings)
    index.ensure_ready()
    spec = options.pop("spec", None) or WorkerSpec(settings)
    options.setdefault("analyzer_name", None if spec.factory else settings.analyzer)
    options.setdefault("face_model", None if spec.factory else bootstrap.face_model(settings))
    options.setdefault("threads", settings.analyzer == "rekognition")
    return BulkIndexer(index=index, spec=spec, **options).run(sources)
