"""Bulk indexing of an existing archive: list (or read an S3 Inventory), skip what is already indexed with the same
ETag, and feed the rest to the pipeline, throttled to what Rekognition accepts and resumable after a crash.

The use case talks to three ports (ports.py): a `ListingSource` (a bucket, an S3 Inventory, a folder), an
`IndexRequestSink` that files are handed to, and a checkpoint store. Two sinks:
- the SQS queue (adapters/queue/sqs.py): one S3-notification message per file into the pipeline's queue, so the
  deployed SQS handler does the work exactly as for a fresh upload, and one bad file never fails another;
- `DirectSink`: the same `handle(event)` in this process over a pool of worker threads (no queue: a laptop, or
  self-hosted S3-compatible storage).
The price table and the dry-run estimate are in services/estimate.py, the rate limiter in services/throttle.py.

Resuming: S3 lists keys in UTF-8 binary order, so "the last key listed and handed over" is a complete checkpoint:
a rerun lists again with StartAfter=that key. The checkpoint only moves past a key once it is safely handed over
(its batch accepted by SQS, or, in direct mode, it and every key before it handled), so a crash loses nothing and
repeats nothing that was already handed over. An S3 Inventory is resumed by (data file, row) instead.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from mediaindex.domain import document as docs
from mediaindex.domain import freshness
from mediaindex.domain.document import SearchDocument
from mediaindex.domain.messages import Outcome, OutcomeTally, StorageEvent
from mediaindex.domain.vocabulary import Action
from mediaindex.ports import Index, IndexRequestSink, Listed, ListingSource, ObjectInfo
from mediaindex.services.estimate import Estimate
from mediaindex.services.index_io import documents_by_id
from mediaindex.services.runner import Handle, WorkerRunner
from mediaindex.services.throttle import TokenBucket

log = logging.getLogger(__name__)

# Objects in these storage classes cannot be read without a restore: listed, counted, never sent.
ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


# ---- what the index already holds --------------------------------------------------------------------------------
def is_current(info: ObjectInfo, doc: SearchDocument | None) -> bool:
    """Already indexed (or already failed) from these very bytes (domain/freshness.py). Any analyzer and face model
    count: the backfill hands files to workers (a Lambda) whose analyzer it does not run."""
    return freshness.is_unchanged(doc, etag=info.etag, size=info.size, analyzer=None, face_model=None)


# ---- sinks -------------------------------------------------------------------------------------------------------
class DirectSink:
    """The IndexRequestSink port in this process: runs `handle` over a pool of threads, keeping at most `window`
    files in flight. The checkpoint is a low-water mark: the last key such that it and every key before it is
    handled, so a crash mid-way never skips a file that a slower worker had not finished."""

    mode = "direct"

    def __init__(self, handle: Handle, workers: int = 4, window: int | None = None,
                 on_outcome: Callable[[Outcome | None, BaseException | None], None] | None = None) -> None:
        self.handle, self.workers = handle, max(1, workers)
        self.window = window or self.workers * 4
        self.on_outcome = on_outcome
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="backfill")
        self._runner = WorkerRunner(self._pool, self.window, self._finished)
        self._order: deque[list[Any]] = deque()  # [position, state] with state None (running), "ok" or "failed"
        self.tally = OutcomeTally()
        self._blocked = False  # a failure holds the checkpoint: a rerun tries that file again

    @property
    def outcomes(self) -> Counter:
        return self.tally.outcomes

    def skip(self, position: str) -> None:
        """A file that needed no work (skipped) still advances the checkpoint in order."""
        if not self._blocked:  # once a failure holds the checkpoint, the order behind it no longer matters
            self._order.append([position, "ok"])


    def submit(self, event: StorageEvent, position: str) -> int:
        slot = [position, None]
        if not self._blocked:
            self._order.append(slot)
        self._runner.submit(slot, self.handle, event)
        return 1

    def flush(self) -> int:
        return 0  # every file is handed to a worker as it is submitted

    def _finished(self, slot: list[Any], future: Future) -> None:
        error = future.exception()
        if error is None:
            outcome = future.result()
            self.tally.add(outcome.action, outcome.api_calls)
            slot[1] = "ok"
            if self.on_outcome:
                self.on_outcome(outcome, None)
        else:
            slot[1] = "failed"  # the count is in outcomes; the first failures say why
            self.tally.add(Action.ERROR, failure={"position": slot[0], "error": f"{type(error).__name__}: {error}"[:500]})
            log.warning("file failed: %s: %s", slot[0], error)
            if self.on_outcome:
                self.on_outcome(None, error)

    def checkpoint(self) -> str | None:
        """Advance past every finished file at the head of the order; None when nothing new is finished."""
        last = None
        while self._order and not self._blocked:
            state = self._order[0][1]
            if state is None:
                break
            if state == "failed":
                self._blocked = True
                break
            last = self._order.popleft()[0]
        return last

    def drain(self) -> None:
        self._runner.drain()

    def take_results(self) -> OutcomeTally:
        tally, self.tally = self.tally, OutcomeTally()
        return tally

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class Summary:
    source: str
    mode: str
    listed: int = 0
    bytes_listed: int = 0
    skipped_unchanged: int = 0
    skipped_archived: int = 0
    sent: int = 0  # queue mode: messages enqueued; direct mode: files handed to a worker
    outcomes: Counter = field(default_factory=Counter)  # direct mode: Outcome.action -> count
    api_calls: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    checkpoint: str | None = None
    done: bool = False
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcomes"] = dict(self.outcomes)
        return d

    def merge(self, other: dict[str, Any]) -> None:
        """Add counts carried over from earlier runs (the deployed handler passes them along)."""
        for name in ("listed", "bytes_listed", "skipped_unchanged", "skipped_archived", "sent", "api_calls"):
            setattr(self, name, getattr(self, name) + int(other.get(name, 0)))
        self.outcomes.update(other.get("outcomes") or {})


# ---- the use case ------------------------------------------------------------------------------------------------
@dataclass
class Backfill:
    source: ListingSource
    index: Index | None  # None: cannot look documents up, send everything (the handler still skips unchanged)
    sink: IndexRequestSink | None  # None: dry run
    limiter: TokenBucket | None = None
    force: bool = False  # send unchanged files too (and without their ETag, so the pipeline analyses them again)
    progress: Callable[[int, int], None] | None = None  # (files listed, files sent) since the last call
    save: Callable[[str | None, bool, dict[str, Any]], None] | None = None  # CheckpointStore.save
    clock: Callable[[], float] = time.monotonic

    def run(self, start_after: str | None = None, deadline: Callable[[], bool] | None = None,
            carried: dict[str, Any] | None = None, estimate: Estimate | None = None) -> Summary:
        """List from `start_after`, hand over what needs indexing, save the checkpoint as it moves; stop early
        (done=False) when `deadline()` says time is up."""
        mode = "dry-run" if self.sink is None else self.sink.mode
        summary = Summary(source=self.source.describe(), mode=mode, checkpoint=start_after)
        if carried:
            summary.merge(carried)
        started = self.clock()
        try:
            finished = self._run(summary, start_after, deadline, estimate)
        finally:
            if self.sink is not None:
                self.sink.drain()
                self._advance(summary)
                results = self.sink.take_results()
                summary.outcomes.update(results.outcomes)
                summary.api_calls += results.api_calls
                summary.errors.extend(results.failures)
            summary.elapsed_s = round(self.clock() - started, 3)
        summary.done = finished and not summary.errors
        self._save(summary)
        return summary

    def _run(self, summary: Summary, start_after: str | None, deadline: Callable[[], bool] | None,
             estimate: Estimate | None) -> bool:
        for page in self.source.pages(start_after):
            if deadline is not None and deadline():
                return False
            summary.listed += len(page)
            summary.bytes_listed += sum(item.info.size for item in page)
            live = [item for item in page if (item.storage_class or "") not in ARCHIVED_CLASSES]
            summary.skipped_archived += len(page) - len(live)
            ids = [docs.document_id(item.info.ref.bucket, item.info.ref.key) for item in live]
            current = {} if (self.index is None or self.force) else documents_by_id(self.index, ids)
            wanted = [item for item, doc_id in zip(live, ids) if not is_current(item.info, current.get(doc_id))]
            summary.skipped_unchanged += len(live) - len(wanted)
            if self.sink is None:  # dry run
                if estimate is not None:
                    estimate.add([item.info for item in wanted])
                summary.checkpoint = page[-1].position
            else:
                self._hand_over(page, wanted, summary)
            if self.progress:
                self.progress(len(page), len(wanted))
        return True

    def _hand_over(self, page: list[Listed], wanted: list[Listed], summary: Summary) -> None:
        """Every file of the page in order, to be indexed or skipped; the checkpoint is saved as the sink says it
        moved (after each batch a queue accepted, and at the end of the page)."""
        assert self.sink is not None
        wanted_ids = {id(item) for item in wanted}
        for item in page:
            if id(item) not in wanted_ids:
                self.sink.skip(item.position)
                continue
            self._throttle(1)
            handed = self.sink.submit(StorageEvent.listed(item.info, self.force), item.position)
            if handed:
                summary.sent += handed
                self._advance(summary)
        summary.sent += self.sink.flush()
        self._advance(summary)

    def _throttle(self, n: int) -> None:
        if self.limiter is not None:
            self.limiter.acquire(n)

    def _advance(self, summary: Summary) -> None:
        assert self.sink is not None
        position = self.sink.checkpoint()
        if position is not None:
            summary.checkpoint = position
            self._save(summary)

    def _save(self, summary: Summary) -> None:
        if self.save is not None and self.sink is not None:
            totals = {k: v for k, v in summary.to_dict().items() if k not in ("errors", "checkpoint", "done")}
            self.save(summary.checkpoint, summary.done, totals)


def deadline_after(seconds: float, clock: Callable[[], float] = time.monotonic) -> Callable[[], bool]:
    end = clock() + seconds
    return lambda: clock() >= end
