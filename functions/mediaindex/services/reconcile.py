"""Make the index agree with storage again after events were lost (notifications off for a while, a DLQ purged, a
folder changed while nothing watched it):

- a document whose file no longer exists gets a tombstone, through the pipeline's own remove use case
  (`Pipeline.handle(StorageEvent(REMOVED, ...))`), so the ordering rules hold: a file that is back by then is left
  alone, and a concurrent newer event wins the compare-and-set;
- a file the index lacks, or whose ETag or size differs from its document, is indexed, through the queue (as
  backfill does) or in-process.

The index's live documents under the prefix are held in memory as key -> (etag, size, status) while storage is
listed once; at about 200 bytes a document, a million documents need some 200 MB.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mediaindex.domain import document as docs
from mediaindex.domain import freshness
from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.messages import Outcome, OutcomeTally, StorageEvent
from mediaindex.domain.vocabulary import Difference
from mediaindex.ports import Index, IndexRequestSink, Listed, ListingSource, ObjectRef
from mediaindex.services.backfill import ARCHIVED_CLASSES, DirectSink
from mediaindex.services.throttle import TokenBucket

MISSING = Difference.MISSING
CHANGED = Difference.CHANGED
ORPHANED = Difference.ORPHANED


@dataclass
class Report:
    source: str
    dry_run: bool
    listed: int = 0
    documents: int = 0
    in_sync: int = 0
    counts: Counter = field(default_factory=Counter)  # MISSING / CHANGED / ORPHANED -> count
    actions: list[dict[str, Any]] = field(default_factory=list)  # what was (or would be) done, per file
    outcomes: Counter = field(default_factory=Counter)  # Outcome.action of what was done in-process
    sent: int = 0  # index requests handed over (put on the queue, or to the workers here)
    errors: list[dict[str, str]] = field(default_factory=list)
    elapsed_s: float = 0.0

    def add(self, results: OutcomeTally) -> None:
        """What the files handled in this process came to."""
        self.outcomes.update(results.outcomes)
        self.errors.extend(results.failures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "dry_run": self.dry_run, "listed": self.listed, "documents": self.documents,
            "in_sync": self.in_sync, "missing": self.counts[MISSING], "changed": self.counts[CHANGED],
            "orphaned": self.counts[ORPHANED], "sent": self.sent, "outcomes": dict(self.outcomes),
            "errors": self.errors, "elapsed_s": self.elapsed_s, "actions": self.actions,
        }


def live_documents(index: Index, bucket: str, prefix: str) -> dict[str, freshness.Fingerprint]:
    """key -> the fields reconcile compares, for every document that is not a tombstone under bucket/prefix."""
    index.refresh()
    found = {}
    for doc in index.iter_documents(include_deleted=False):
        key = doc.get("key") or ""
        if doc.get("bucket", "") == bucket and key.startswith(prefix) and doc.get("status") != docs.DELETED:
            found[key] = freshness.fingerprint(doc)
    return found


def differs(listed_etag: str | None, listed_size: int, known: freshness.Fingerprint) -> bool:
    """Does the index hold other bytes than the listed file (domain/freshness.py)? Reconcile compares bytes only:
    any analyzer and face model count (analysing again with another one is `mediaindex index`'s business)."""
    return not freshness.holds_bytes(known, etag=listed_etag, size=listed_size)


@dataclass
class Reconcile:
    index: Index
    source: ListingSource
    prefix: str  # the index's key prefix matching the source (an absolute folder path ends with os.sep)
    remove: Callable[[StorageEvent], Outcome] | None  # Pipeline.handle; None for a dry run
    feed: IndexRequestSink | None  # where index requests go (a queue, or workers here); None for a dry run
    limiter: TokenBucket | None = None
    workers: int = 4
    progress: Callable[[int], None] | None = None
    clock: Callable[[], float] = time.monotonic

    def run(self, dry_run: bool = False) -> Report:
        started = self.clock()
        report = Report(source=self.source.describe(), dry_run=dry_run)
        known = live_documents(self.index, self.source.bucket, self.prefix)
        report.documents = len(known)
        to_index: list[tuple[Listed, str]] = []
        for page in self.source.pages(None):
            report.listed += len(page)
            for item in page:
                doc = known.pop(docs.storable_text(item.info.ref.key), None)  # as the document holds the key
                if (item.storage_class or "") in ARCHIVED_CLASSES:
                    continue  # cannot be read without a restore; an existing document stays as it is
                if doc is None:
                    to_index.append((item, MISSING))
                elif differs(item.info.etag, item.info.size, doc):
                    to_index.append((item, CHANGED))
                else:
                    report.in_sync += 1
            if self.progress:
                self.progress(len(page))
            if len(to_index) >= 100:  # hand over as we go rather than holding every missing file
                self._index(to_index, report, dry_run)
                to_index = []
        self._index(to_index, report, dry_run)
        self._remove(sorted(known), report, dry_run)
        if self.feed is not None and not dry_run:
            self.feed.drain()
            report.add(self.feed.take_results())
        report.elapsed_s = round(self.clock() - started, 3)
        return report

    def _index(self, items: list[tuple[Listed, str]], report: Report, dry_run: bool) -> None:
        for item, why in items:
            report.counts[why] += 1
            report.actions.append({"action": "index", "reason": why, "bucket": item.info.ref.bucket,
                                   "key": item.info.ref.key})
        if dry_run or not items:
            return
        if self.feed is None:
            raise ConfigurationError("nothing to index with: give a queue or run in-process")
        # changed files are sent without their ETag: the listing's ETag is the new one, and the pipeline must
        # not take the event for the document it already holds
        for item, why in items:
            if self.limiter:
                self.limiter.acquire(1)
            report.sent += self.feed.submit(StorageEvent.listed(item.info, force=(why == CHANGED)), item.position)
        report.sent += self.feed.flush()

    def _remove(self, keys: list[str], report: Report, dry_run: bool) -> None:
        for key in keys:
            report.counts[ORPHANED] += 1
            report.actions.append({"action": "remove", "reason": ORPHANED, "bucket": self.source.bucket, "key": key})
        if dry_run or not keys:
            return
        if self.remove is None:
            raise ConfigurationError("nothing to remove documents with")
        sink = DirectSink(self.remove, workers=self.workers)
        try:
            for key in keys:
                sink.submit(StorageEvent.removed(ObjectRef(self.source.bucket, key)), key)
            sink.drain()
        finally:
            sink.close()
        report.add(sink.take_results())


def folder_prefix(folder: str) -> str:
    """The key prefix of the documents of files under `folder` (keys are absolute paths)."""
    path = Path(folder).expanduser().absolute()
    return str(path) if path.is_file() else str(path).rstrip(os.sep) + os.sep
