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

The same use case serves `mediaindex index` and `watch`: give it `IndexRoot`s, and from the entry point a handler
factory and the worker processes (entrypoints/workers.py sets those up and wires them: `bulk_indexer`). Files run
on the shared WorkerRunner (services/runner.py).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from mediaindex.domain import document as docs
from mediaindex.domain import freshness
from mediaindex.domain.document import SearchDocument
from mediaindex.domain.errors import ConfigurationError, MediaIndexError
from mediaindex.domain.locations import is_s3_uri, parse_s3_uri
from mediaindex.domain.messages import OutcomeTally, StorageEvent
from mediaindex.domain.vocabulary import Action
from mediaindex.ports import Index, ObjectInfo, ObjectRef, Storage, WorkerProcesses
from mediaindex.services import video
from mediaindex.services.index_io import compare_and_set, documents_by_id
from mediaindex.services.runner import Handle, WorkerRunner

log = logging.getLogger(__name__)

LIST_PAGE = 256  # files looked up in the index at once
# A worker process must have at least this many files to analyse to be worth starting: each costs a Python start,
# the imports and its own model loads (0.5-1.5 s here), which a run of a few files never earns back; a run smaller
# than two workers' worth is analysed in this process (bench/bench_vs_face_recognition.py measures it).
MIN_FILES_PER_WORKER = 3

# ---- sources -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexRoot:
    """What one PATH argument indexes: a folder or file on this machine (bucket ""), or an S3 bucket and prefix."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, text: str) -> "IndexRoot":
        if is_s3_uri(text):
            return cls(*parse_s3_uri(text))
        path = os.path.abspath(os.path.expanduser(text))  # normalised ("a/../b" is b), symlinks kept as named
        if not os.path.exists(path):
            raise ConfigurationError(f"{text}: no such file or folder")
        return cls("", path)

    @property
    def is_local(self) -> bool:
        return not self.bucket

    def __str__(self) -> str:
        return self.prefix if self.is_local else f"s3://{self.bucket}/{self.prefix}"

    def covers(self, doc: SearchDocument) -> bool:
        """Is this document's file under this source (so a complete listing of the source must have listed it)?"""
        if (doc.get("bucket") or "") != self.bucket:
            return False
        key = str(doc.get("key") or "")
        if self.is_local:
            return key == self.prefix or key.startswith(self.prefix.rstrip(os.sep) + os.sep)
        return key.startswith(self.prefix)


# ---- workers -------------------------------------------------------------------------------------------------------
def outcome_dict(handle: Handle, event: StorageEvent) -> dict[str, Any]:
    """The outcome as plain data (crosses process boundaries); an exception becomes an `error` outcome."""
    try:
        return handle(event).to_dict()
    except Exception as e:  # noqa: BLE001 - one file's fault must not stop the run: report it, with its reason
        reason = str(e) if isinstance(e, MediaIndexError) else f"{type(e).__name__}: {e}"
        log.warning("%s: %s", event.ref, reason)
        return {"action": Action.ERROR, "bucket": event.ref.bucket, "key": event.ref.key, "reason": reason[:500]}


# ---- the summary ---------------------------------------------------------------------------------------------------
@dataclass
class BulkSummary:
    sources: list[str]
    workers: int = 1
    mode: str = "inline"
    listed: int = 0
    unchanged: int = 0  # skipped from the listing alone
    # Outcome.action -> count ("error" for exceptions), and the failures as {"key", "reason", "action"}
    tally: OutcomeTally = field(default_factory=OutcomeTally)
    removed: int = 0  # tombstones written by --prune
    elapsed_s: float = 0.0
    interrupted: bool = False
    complete: bool = False  # every source listed to its end and every listed file handled

    @property
    def outcomes(self) -> Counter:
        return self.tally.outcomes

    @property
    def failures(self) -> list[dict[str, Any]]:
        return self.tally.failures

    @property
    def processed(self) -> int:
        return sum(n for action, n in self.outcomes.items() if action != Action.REMOVED)

    def to_dict(self) -> dict[str, Any]:
        o = self.outcomes
        rate = self.processed / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return {
            "sources": self.sources,
            "workers": self.workers,
            "mode": self.mode,
            "listed": self.listed,
            "indexed": o[Action.INDEXED],
            "reused": o[Action.REUSED],
            "unchanged": self.unchanged + o[Action.UNCHANGED],
            "failed": o[Action.FAILED],
            "errors": o[Action.ERROR],
            "gone": o[Action.GONE],
            "skipped_other": o[Action.STALE] + o[Action.DUPLICATE],
            "removed": self.removed,
            "failures": self.failures,
            "elapsed_s": round(self.elapsed_s, 3),
            "files_per_s": round(rate, 2),
            "interrupted": self.interrupted,
            "complete": self.complete,
        }


def is_unchanged(info: ObjectInfo, doc: SearchDocument | None, analyzer: str | None,
                 face_model: str | None = None, reads_text: bool = False, meaning_model: str | None = None) -> bool:
    """The pipeline's own UNCHANGED rule (domain/freshness.py), decided from the listing. `analyzer` None: the
    workers' analyzer comes from a factory this process does not know, so any analyzer counts."""
    return freshness.is_unchanged(doc, etag=info.etag, size=info.size, analyzer=analyzer, face_model=face_model,
                                  reads_text=reads_text, meaning_model=meaning_model)


# ---- the runner ----------------------------------------------------------------------------------------------------
_DONE = object()


@dataclass
class BulkIndexer:
    """List, skip what is current, index the rest over `workers`, optionally prune; see the module docstring."""

    index: Index
    storage: Storage  # what the parent lists with (and, inline or threaded, what the handler reads)
    make_handle: Callable[[], Handle]  # the handler in this process (inline, threads, prune), when first needed
    processes: WorkerProcesses | None = None  # for more than one worker without threads (the local models)
    workers: int = 1
    threads: bool = False  # threads instead of processes (Rekognition)
    force: bool = False  # analyse again even when unchanged
    retry_failed: bool = False  # analyse files whose document says failed, even when unchanged
    prune: bool = False
    analyzer_name: str | None = None  # None: do not compare analyzers when deciding "unchanged"
    reads_text: bool = False  # text is read: a screenshot indexed before that is analysed again (domain/freshness.py)
    face_model: str | None = None  # documents with face vectors of another model are analysed again
    meaning_model: str | None = None  # search by description: pictures without its vector are embedded
    # a document that must be analysed again although its file is unchanged (the pipeline's look_missing)
    needs_analysis: Callable[[SearchDocument], bool] | None = None
    # ("total", n) / ("done", outcome dict) / ("video", {"key", "done", "duration"}: seconds of a video analysed)
    on_progress: Callable[[str, Any], None] | None = None
    handle: Handle | None = None  # inline/threaded: an already built handler (tests, reuse)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._sized = threading.Event()  # the listing went far enough (or ended) to know how many workers to start
        self._pool: Executor | None = None
        self._runner: WorkerRunner | None = None

    @property
    def mode(self) -> str:
        if self.workers <= 1:
            return "inline"
        return "threads" if self.threads else "processes"

    # -- listing (a background thread, so the total and the ETA are known early) --
    def _list(self, roots: list[IndexRoot], out: "queue.Queue[Any]", state: dict[str, Any]) -> None:
        try:
            for root in roots:
                page: list[ObjectInfo] = []
                for info in self.storage.list(root.bucket, root.prefix):
                    if self._stop.is_set():
                        return
                    if self.prune:  # what a complete listing saw: everything else under the root vanished
                        key = docs.storable_text(info.ref.key)  # as documents hold it
                        state["seen"].add(key if root.is_local else (info.ref.bucket, key))
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
            self._sized.set()
            out.put(_DONE)

    def _dispatch_page(self, page: list[ObjectInfo], out: "queue.Queue[Any]", state: dict[str, Any]) -> None:
        ids = [docs.document_id(i.ref.bucket, i.ref.key) for i in page]
        current = {} if self.force else documents_by_id(self.index, ids)
        wanted = []
        for info, doc_id in zip(page, ids):
            doc = current.get(doc_id)
            if is_unchanged(info, doc, self.analyzer_name, self.face_model, self.reads_text,
                            self.meaning_model) and not (
                self.retry_failed and doc is not None and doc.get("status") == docs.FAILED
            ) and not (doc is not None and self.needs_analysis is not None and self.needs_analysis(doc)):
                state["unchanged"] += 1
                continue
            wanted.append(info)
        state["listed"] += len(page)
        if wanted and self.on_progress:
            self.on_progress("total", len(wanted))
        state["queued"] += len(wanted)
        if state["queued"] >= self.workers * MIN_FILES_PER_WORKER:
            self._sized.set()  # enough work for every worker asked for
        for info in wanted:
            out.put(info)

    def _event(self, info: ObjectInfo) -> StorageEvent:
        return StorageEvent.listed(info, force=self.force or self.retry_failed)

    # -- the run --
    def run(self, roots: Iterable[IndexRoot]) -> BulkSummary:
        roots = list(roots)
        summary = BulkSummary(sources=[str(r) for r in roots], workers=max(1, self.workers), mode=self.mode)
        started = time.monotonic()
        state: dict[str, Any] = {"seen": set(), "listed": 0, "unchanged": 0, "listed_all": False, "error": None,
                                 "queued": 0}
        # roomy, so a folder is listed (and the total known) long before the work is done; bounded for huge buckets
        work: "queue.Queue[Any]" = queue.Queue(maxsize=100_000)
        lister = threading.Thread(target=self._list, args=(roots, work, state), name="bulk-list", daemon=True)
        lister.start()
        try:
            self._size_for(state, summary)
            if self.on_progress is not None and self.mode != "processes":  # workers here tell the bar directly
                video.set_progress_reporter(self._video_progress)
            self._runner = self._start_runner(summary)
            self._loop(work)
        except KeyboardInterrupt:
            summary.interrupted = True
            self._stop.set()
            self._finish_running()
        finally:
            self._stop.set()
            if self._pool is not None:
                self._pool.shutdown(wait=not summary.interrupted, cancel_futures=True)
            if self.on_progress is not None:
                video.set_progress_reporter(None)
            if self.processes is not None:
                self.processes.close()
            summary.listed, summary.unchanged = state["listed"], state["unchanged"]
        if state["error"] is not None:
            raise state["error"]
        summary.complete = state["listed_all"] and not summary.interrupted
        if self.prune and summary.complete:
            self._prune(roots, state["seen"], summary)
        self.index.refresh()  # OpenSearch: searchable as soon as the command returns
        summary.elapsed_s = time.monotonic() - started
        return summary

    def _video_progress(self, key: str, done: float, duration: float) -> None:
        if self.on_progress is not None:
            self.on_progress("video", {"key": key, "done": done, "duration": duration})

    def _size_for(self, state: dict[str, Any], summary: BulkSummary) -> None:
        """Worker processes for the files there are: a run of a few files (a photo added, a rerun with little
        changed) is analysed in this process, whose imports are done, rather than paying for processes that
        each start Python and load the models for a file or two; more workers only where each has
        MIN_FILES_PER_WORKER files."""
        if self.mode != "processes" or self.processes is None:
            return
        self._sized.wait()
        if not state["listed_all"]:  # a long listing (or one that failed: the run stops on it anyway)
            return
        self.workers = max(1, min(self.workers, state["queued"] // MIN_FILES_PER_WORKER))
        summary.workers, summary.mode = self.workers, self.mode

    def _start_runner(self, summary: BulkSummary) -> WorkerRunner:
        def finished(_info: ObjectInfo, future: Future) -> None:
            if not future.cancelled():
                self._record(future.result(), summary)

        if self.mode == "processes":
            self._pool = self._start_processes(self.workers)
            return WorkerRunner(self._pool, self.workers * 2, finished,
                                on_broken=lambda suspects: self._recover(suspects, summary))
        if self.handle is None:
            self.handle = self.make_handle()
        if self.threads and self.workers > 1:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="bulk")
        return WorkerRunner(self._pool, max(1, self.workers) * 2, finished)

    def _start_processes(self, workers: int) -> Executor:
        if self.processes is None:
            raise ConfigurationError("no worker processes to run files on: use one worker, or threads")
        return self.processes.start(workers, self._video_progress if self.on_progress is not None else None)

    def _loop(self, work: "queue.Queue[Any]") -> None:
        assert self._runner is not None
        while True:
            item = work.get()
            if item is _DONE:
                break
            if self.mode == "processes":
                assert self.processes is not None
                self._runner.submit(item, self.processes.task, self._event(item))
            else:
                self._runner.submit(item, outcome_dict, self.handle, self._event(item))
        self._runner.drain()

    def _recover(self, suspects: list[ObjectInfo], summary: BulkSummary) -> None:
        """A worker process died (a model crashed on some file, or the machine ran out of memory), taking every
        file in flight with it. Run those files again one at a time, each in a fresh single worker: the file that
        kills its worker again gets a `failed` document saying so (and is not retried until it changes); the
        others are indexed. Then go on with a full pool."""
        log.warning("a worker process died; running the %d file(s) it may have died on one at a time", len(suspects))
        assert self._pool is not None and self.processes is not None and self._runner is not None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._start_processes(1)
        for info in suspects:
            try:
                self._record(self._pool.submit(self.processes.task, self._event(info)).result(), summary)
            except BrokenProcessPool:
                self._record(self._write_crashed(info), summary)
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start_processes(1)
        self._pool.shutdown(wait=True)
        self._pool = self._runner.executor = self._start_processes(self.workers)

    def _write_crashed(self, info: ObjectInfo) -> dict[str, Any]:
        """A `failed` document for a file whose analysis kills the process, so that a rerun skips it."""
        reason = ("crashed: the analysis of this file ended its worker process (a crash in a model, or out of "
                  "memory); it is skipped until it changes (--retry-failed tries again)")
        doc_id = docs.document_id(info.ref.bucket, info.ref.key)
        doc: SearchDocument = {
            **docs.base_document(info.ref.bucket, info.ref.key, None), "status": docs.FAILED, "error": reason,
            "size": info.size, "etag": info.etag, "last_modified": info.last_modified, "face_count": 0,
        }
        result = {"action": Action.FAILED, "bucket": info.ref.bucket, "key": info.ref.key, "reason": reason}
        try:
            compare_and_set(self.index, doc_id,
                            lambda current: self.index.put(doc, current.version if current else None))
        except MediaIndexError:  # the index is down, or the document kept changing
            return {**result, "action": Action.ERROR}  # not recorded: the next run tries the file again
        return result

    def _record(self, result: dict[str, Any], summary: BulkSummary) -> None:
        action = result["action"]
        failure = None
        if action in (Action.FAILED, Action.ERROR):
            ref = ObjectRef(result.get("bucket") or "", result["key"])
            failure = {"key": str(ref), "action": action, "reason": result.get("reason")}
        summary.tally.add(action, failure=failure)
        if self.on_progress:
            self.on_progress("done", result)

    def _finish_running(self) -> None:
        """After Ctrl-C: drop what has not started, let running files finish (a second Ctrl-C abandons them;
        their documents are simply not written, and the next run does them)."""
        if self._runner is None:
            return
        self._runner.cancel_waiting()
        try:
            self._runner.drain()
        except KeyboardInterrupt:
            if self.mode == "processes" and self._pool is not None and self.processes is not None:
                self.processes.terminate(self._pool)
            self._runner.abandon()

    # -- prune --
    def _prune(self, sources: list[IndexRoot], seen: set[Any], summary: BulkSummary) -> None:
        vanished = [
            doc for doc in self.index.iter_documents()
            if doc.get("status") != docs.DELETED
            and any(s.covers(doc) for s in sources)
            and ((doc.get("key") if not doc.get("bucket") else (doc.get("bucket"), doc.get("key"))) not in seen)
        ]
        if not vanished:
            return
        handle = self.handle or self.make_handle()
        self.handle = handle
        for doc in vanished:
            event = StorageEvent.removed(ObjectRef(doc.get("bucket") or "", doc["key"]))
            result = outcome_dict(handle, event)
            if result["action"] == Action.REMOVED:
                summary.removed += 1
            elif result["action"] == Action.ERROR:
                self._record(result, summary)
