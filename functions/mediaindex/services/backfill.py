"""Bulk indexing of an existing archive: list (or read an S3 Inventory), skip what is already indexed with the same
ETag, and feed the rest to the pipeline, throttled to what Rekognition accepts and resumable after a crash.

Two ways to feed the pipeline, one use case each way:
- `QueueSink`: one S3-notification message per file into the pipeline's SQS queue (SendMessageBatch, 10 a call),
  so the deployed SQS handler does the work exactly as for a fresh upload, and one bad file never fails another;
- `DirectSink`: the same `handle(event)` in this process over a pool of worker threads (no queue: a laptop, or
  self-hosted S3-compatible storage).

Resuming: S3 lists keys in UTF-8 binary order, so "the last key listed and handed over" is a complete checkpoint:
a rerun lists again with StartAfter=that key. The checkpoint only moves past a key once it is safely handed over
(its batch accepted by SQS, or, in direct mode, it and every key before it handled), so a crash loses nothing and
repeats nothing that was already handed over. An S3 Inventory is resumed by (data file, row) instead.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence
from urllib.parse import unquote_plus

from mediaindex.adapters.s3_events import notification_for
from mediaindex.domain import document as docs
from mediaindex.domain import freshness
from mediaindex.domain.errors import ConfigurationError, TransientError
from mediaindex.ports import Index, ObjectInfo, ObjectRef
from mediaindex.services.index_io import documents_by_id
from mediaindex.services.indexing import CREATED, Outcome, StorageEvent

log = logging.getLogger(__name__)

# ---- what it costs and how fast Rekognition lets us go --------------------------------------------------------------
# Amazon Rekognition Image list prices in USD per 1,000 images, us-east-1, first tier (the first 1 million images a
# month; larger volumes are cheaper), from https://aws.amazon.com/rekognition/pricing/ as read in November 2024.
# Keep every price here; `estimate()` and the docs read this table.
PRICES_AS_OF = "2024-11"
PRICES_REGION = "us-east-1"
PRICE_PER_1000_USD = {
    "DetectLabels": 1.00,  # group 2 API
    "DetectFaces": 1.00,  # group 2 API
    "DetectText": 1.00,  # group 2 API
    "DetectModerationLabels": 1.00,  # group 2 API
    "SearchFacesByImage": 1.00,  # group 1 API
}

# Rekognition's default transactions-per-second quota per API and account in us-east-1, us-west-2 and eu-west-1
# (Service Quotas, "Transactions per second per account for ..."); smaller regions start lower (5): pass --rate.
DEFAULT_TPS = {
    "DetectLabels": 50.0,
    "DetectFaces": 50.0,
    "DetectText": 50.0,
    "DetectModerationLabels": 50.0,
    "SearchFacesByImage": 50.0,
}
# Leave a fifth of the quota for everything else that calls Rekognition (fresh uploads, people enrolment, retries).
RATE_HEADROOM = 0.8
# The assumption behind SearchFacesByImage counts: one face per picture on average, unless told otherwise.
DEFAULT_FACES_PER_IMAGE = 1.0
# Videos: a frame is analysed every MEDIAINDEX_VIDEO_INTERVAL seconds; the listing does not say how long a video is.
DEFAULT_VIDEO_SECONDS = 60.0

IMAGE_EXTENSIONS = frozenset(
    "jpg jpeg jpe jfif png gif webp bmp tif tiff heic heif avif".split()
)
VIDEO_EXTENSIONS = frozenset("mp4 m4v mov qt mkv webm avi mts m2ts ts 3gp mpg mpeg".split())
# Objects in these storage classes cannot be read without a restore: listed, counted, never sent.
ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})

SQS_BATCH = 10  # SendMessageBatch's maximum
MAX_ERRORS_KEPT = 1000
_SEND_ATTEMPTS = 5


def media_kind(key: str) -> str:
    """"image", "video" or "other", by the key's extension (an estimate: the pipeline sniffs the bytes)."""
    ext = PurePosixPath(key).suffix.lower().lstrip(".")
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return "other"


def calls_per_image(features: Sequence[str], faces_per_image: float = DEFAULT_FACES_PER_IMAGE) -> dict[str, float]:
    """Rekognition calls the pipeline makes for one picture with these features (as the Rekognition analyzer does:
    DetectFaces for faces or people, SearchFacesByImage once per detected face when people are matched)."""
    calls: dict[str, float] = {}
    if "labels" in features:
        calls["DetectLabels"] = 1.0
    if "faces" in features or "people" in features:
        calls["DetectFaces"] = 1.0
    if "text" in features:
        calls["DetectText"] = 1.0
    if "moderation" in features:
        calls["DetectModerationLabels"] = 1.0
    if "people" in features and faces_per_image > 0:
        calls["SearchFacesByImage"] = faces_per_image
    return calls


def default_rate(
    features: Sequence[str], faces_per_image: float = DEFAULT_FACES_PER_IMAGE,
    tps: dict[str, float] | None = None, headroom: float = RATE_HEADROOM,
) -> float:
    """Files per second that keep every API under its TPS quota: each API has its own quota, so the API with the
    most calls per file relative to its quota decides."""
    tps = tps or DEFAULT_TPS
    per_file = calls_per_image(features, faces_per_image)
    limits = [tps[api] / n for api, n in per_file.items() if n > 0]
    return round(headroom * min(limits), 3) if limits else 10.0


# ---- throttling --------------------------------------------------------------------------------------------------
class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up. `acquire(n)` waits until n tokens are there. The clock and
    sleep are injected so the logic is tested without waiting."""

    def __init__(
        self, rate: float, burst: float | None = None,
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ConfigurationError(f"rate must be positive, not {rate}")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(rate, SQS_BATCH))
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def wait_time(self, n: float = 1) -> float:
        """Seconds until `n` tokens are available (0 if they are now); takes nothing."""
        with self._lock:
            self._refill()
            return max(0.0, (n - self._tokens) / self.rate)

    def try_acquire(self, n: float = 1) -> bool:
        with self._lock:
            self._refill()
            if self._tokens >= n - 1e-9:  # float dust must not refuse a token that is due
                self._tokens -= n
                return True
            return False

    def acquire(self, n: float = 1) -> float:
        """Take n tokens, sleeping as long as needed; returns the seconds slept. n may exceed the burst: the debt
        is paid by waiting, so the long-run rate still holds."""
        slept = 0.0
        with self._lock:
            self._refill()
            self._tokens -= n
            if self._tokens < 0:
                slept = -self._tokens / self.rate
        if slept:
            self._sleep(slept)
        return slept


# ---- sources -----------------------------------------------------------------------------------------------------
@dataclass
class Listed:
    """One object to consider, with the position a rerun would resume after."""

    info: ObjectInfo
    position: str
    storage_class: str | None = None


class Source(Protocol):
    bucket: str

    def pages(self, position: str | None) -> Iterator[list[Listed]]:
        """Pages of objects in a stable order, starting after `position` (None: from the start)."""

    def describe(self) -> str: ...


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ConfigurationError(f"{uri!r} is not an s3:// address")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not bucket:
        raise ConfigurationError(f"{uri!r} names no bucket: write s3://bucket[/prefix]")
    return bucket, prefix


class S3Source:
    """ListObjectsV2 in key order; resumes with StartAfter=<last key handed over>."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", page_size: int = 1000) -> None:
        self.client, self.bucket, self.prefix, self.page_size = client, bucket, prefix, page_size

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def pages(self, position: str | None) -> Iterator[list[Listed]]:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix, "MaxKeys": self.page_size}
        if position:
            kwargs["StartAfter"] = position
        while True:
            try:
                page = self.client.list_objects_v2(**kwargs)
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code", "")
                if code in ("NoSuchBucket", "AccessDenied", "403"):
                    raise ConfigurationError(f"cannot list s3://{self.bucket}/{self.prefix} ({code}): check the "
                                             "bucket name and s3:ListBucket permission") from None
                raise TransientError(f"listing s3://{self.bucket}/{self.prefix} failed: {code}") from None
            items = []
            for item in page.get("Contents", []):
                modified = item.get("LastModified")
                info = ObjectInfo(
                    ref=ObjectRef(self.bucket, item["Key"]), size=int(item.get("Size", 0)),
                    etag=(item.get("ETag") or "").strip('"') or None,
                    last_modified=modified.isoformat() if modified is not None else None,
                )
                items.append(Listed(info, item["Key"], item.get("StorageClass")))
            if items:
                yield items
            if not page.get("IsTruncated"):
                return
            kwargs.pop("StartAfter", None)
            kwargs["ContinuationToken"] = page["NextContinuationToken"]


class FolderSource:
    """Every file under a folder, sorted by path, so that "after this path" is a resume point as on S3."""

    bucket = ""

    def __init__(self, storage: Any, folder: str, page_size: int = 1000) -> None:
        self.storage, self.folder, self.page_size = storage, str(Path(folder).expanduser().absolute()), page_size

    def describe(self) -> str:
        return self.folder

    def pages(self, position: str | None) -> Iterator[list[Listed]]:
        infos = sorted(self.storage.list("", self.folder), key=lambda i: i.ref.key)
        page: list[Listed] = []
        for info in infos:
            if position is not None and info.ref.key <= position:
                continue
            page.append(Listed(info, info.ref.key))
            if len(page) >= self.page_size:
                yield page
                page = []
        if page:
            yield page


class InventorySource:
    """An S3 Inventory report: manifest.json names CSV.gz data files (in the destination bucket) whose columns are
    given by `fileSchema`. Keys in the CSV are URL-encoded. Resumes by "inventory:<file number>:<rows done>"."""

    def __init__(self, client: Any, manifest_uri: str, prefix: str = "", page_size: int = 1000) -> None:
        self.client, self.prefix, self.page_size = client, prefix, page_size
        self.manifest_uri = manifest_uri
        manifest_bucket, manifest_key = parse_s3_uri(manifest_uri)
        try:
            body = client.get_object(Bucket=manifest_bucket, Key=manifest_key)["Body"].read()
            self.manifest = json.loads(body)
        except ValueError as e:
            raise ConfigurationError(f"{manifest_uri} is not a JSON inventory manifest: {e}") from None
        except Exception as e:  # noqa: BLE001 - botocore's errors: the manifest is unreadable, say which
            raise ConfigurationError(f"cannot read the inventory manifest {manifest_uri}: {e}") from None
        fmt = str(self.manifest.get("fileFormat", "")).upper()
        if fmt != "CSV":
            raise ConfigurationError(f"inventory format {fmt or '?'}: only CSV inventories can be read (not ORC/Parquet)")
        self.bucket = self.manifest["sourceBucket"]
        self.columns = [c.strip() for c in self.manifest["fileSchema"].split(",")]
        for needed in ("Key", "Size"):
            if needed not in self.columns:
                raise ConfigurationError(f"inventory schema lacks {needed}: {self.manifest['fileSchema']}")
        destination = str(self.manifest.get("destinationBucket", ""))
        self.data_bucket = destination.split(":::")[-1] if destination else manifest_bucket
        self.files = [f["key"] for f in self.manifest.get("files", [])]

    def describe(self) -> str:
        return f"inventory {self.manifest_uri} of s3://{self.bucket}/{self.prefix}"

    def rows(self, file_key: str) -> Iterator[dict[str, str]]:
        body = self.client.get_object(Bucket=self.data_bucket, Key=file_key)["Body"].read()
        text = gzip.decompress(body).decode("utf-8") if file_key.endswith(".gz") else body.decode("utf-8")
        for row in csv.reader(io.StringIO(text)):
            if row:
                yield dict(zip(self.columns, row))

    def pages(self, position: str | None) -> Iterator[list[Listed]]:
        start_file, start_row = 0, 0
        if position:
            try:
                _, f, r = position.split(":")
                start_file, start_row = int(f), int(r)
            except ValueError:
                raise ConfigurationError(f"checkpoint {position!r} is not an inventory position") from None
        page: list[Listed] = []
        for number in range(start_file, len(self.files)):
            for row_number, row in enumerate(self.rows(self.files[number]), start=1):
                if number == start_file and row_number <= start_row:
                    continue
                listed = self._listed(row, f"inventory:{number}:{row_number}")
                if listed is None:
                    continue
                page.append(listed)
                if len(page) >= self.page_size:
                    yield page
                    page = []
        if page:
            yield page

    def _listed(self, row: dict[str, str], position: str) -> Listed | None:
        # versioned inventories list every version and delete markers: only the current object matters
        if row.get("IsLatest", "true").lower() != "true" or row.get("IsDeleteMarker", "false").lower() == "true":
            return None
        key = unquote_plus(row["Key"])  # URL-encoded as in event notifications: space is "+", "+" is %2B
        if not key.startswith(self.prefix):
            return None
        size = row.get("Size") or "0"
        info = ObjectInfo(
            ref=ObjectRef(row.get("Bucket") or self.bucket, key), size=int(size),
            etag=(row.get("ETag") or "").strip('"') or None, last_modified=row.get("LastModifiedDate") or None,
        )
        return Listed(info, position, row.get("StorageClass") or None)


# ---- what the index already holds --------------------------------------------------------------------------------
def is_current(info: ObjectInfo, doc: dict[str, Any] | None) -> bool:
    """Already indexed (or already failed) from these very bytes (domain/freshness.py). Any analyzer and face model
    count: the backfill hands files to workers (a Lambda) whose analyzer it does not run."""
    return freshness.is_unchanged(doc, etag=info.etag, size=info.size, analyzer=None, face_model=None)


def created_event(info: ObjectInfo, force: bool = False) -> StorageEvent:
    """An ObjectCreated event as S3 would send it (no sequencer: the pipeline asks storage what is true now).
    `force` leaves out the ETag so the pipeline does not skip an unchanged file."""
    return StorageEvent(
        kind=CREATED, ref=info.ref, etag=None if force else info.etag, size=None if force else info.size,
        event_name="ObjectCreated:Put", event_time=docs.now_iso(),
    )


# ---- sinks -------------------------------------------------------------------------------------------------------
class QueueSink:
    """One S3 notification per message, ten messages per SendMessageBatch. Entries SQS refuses are sent again with
    backoff; what still fails raises TransientError before the checkpoint moves past it."""

    def __init__(self, sqs: Any, queue_url: str, region: str | None = None, sleep: Callable[[float], None] = time.sleep):
        self.sqs, self.queue_url, self.region, self._sleep = sqs, queue_url, region or "us-east-1", sleep
        self.calls = 0

    def message_body(self, event: StorageEvent) -> str:
        return json.dumps(notification_for([event], self.region), ensure_ascii=False, separators=(",", ":"))

    def send(self, events: Sequence[StorageEvent]) -> int:
        for start in range(0, len(events), SQS_BATCH):
            self._send_batch(events[start:start + SQS_BATCH])
        return len(events)

    def _send_batch(self, events: Sequence[StorageEvent]) -> None:
        pending = {str(i): e for i, e in enumerate(events)}
        for attempt in range(_SEND_ATTEMPTS):
            if attempt:
                self._sleep(min(5.0, 0.2 * 2 ** attempt))
            entries = [
                {
                    "Id": entry_id, "MessageBody": self.message_body(event),
                    "MessageAttributes": {"origin": {"DataType": "String", "StringValue": "mediaindex-backfill"}},
                }
                for entry_id, event in pending.items()
            ]
            self.calls += 1
            try:
                response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception as e:  # noqa: BLE001 - botocore errors: throttled or down; try again, then give up
                code = getattr(e, "response", {}).get("Error", {}).get("Code", "") if hasattr(e, "response") else ""
                if "NonExistentQueue" in code or "AccessDenied" in code:
                    raise ConfigurationError(f"cannot send to {self.queue_url} ({code}): check the queue URL and "
                                             "sqs:SendMessage permission") from None
                log.warning("SendMessageBatch failed, retrying: %s", e)
                continue
            failed = response.get("Failed") or []
            permanent = [f for f in failed if f.get("SenderFault")]
            if permanent:
                raise ConfigurationError(f"SQS refused messages: {permanent[0].get('Code')}: {permanent[0].get('Message')}")
            pending = {f["Id"]: pending[f["Id"]] for f in failed}
            if not pending:
                return
        raise TransientError(f"SQS did not accept {len(pending)} message(s) after {_SEND_ATTEMPTS} attempts")


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


Handle = Callable[[StorageEvent], Outcome]


class DirectSink:
    """Runs `handle` (Pipeline.handle, or the app's router) over a pool of threads, keeping at most `window` files
    in flight. The checkpoint is a low-water mark: the last key such that it and every key before it is handled,
    so a crash mid-way never skips a file that a slower worker had not finished."""

    def __init__(self, handle: Handle, workers: int = 4, window: int | None = None,
                 on_outcome: Callable[[Outcome | None, Exception | None], None] | None = None) -> None:
        self.handle, self.workers = handle, max(1, workers)
        self.window = window or self.workers * 4
        self.on_outcome = on_outcome
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="backfill")
        self._order: deque[list[Any]] = deque()  # [position, state] with state None (running), "ok" or "failed"
        self._running: dict[Future, list[Any]] = {}
        self.outcomes: Counter = Counter()
        self.api_calls = 0
        self.errors: list[dict[str, str]] = []
        self._blocked = False  # a failure holds the checkpoint: a rerun tries that file again

    def mark_done(self, position: str) -> None:
        """A file that needed no work (skipped) still advances the checkpoint in order."""
        if not self._blocked:  # once a failure holds the checkpoint, the order behind it no longer matters
            self._order.append([position, "ok"])

    def submit(self, event: StorageEvent, position: str) -> None:
        while len(self._running) >= self.window:
            self._collect(block=True)
        slot = [position, None]
        if not self._blocked:
            self._order.append(slot)
        self._running[self._pool.submit(self.handle, event)] = slot
        self._collect(block=False)

    def _collect(self, block: bool) -> None:
        if not self._running:
            return
        done, _ = wait(list(self._running), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            slot = self._running.pop(future)
            error = future.exception()
            if error is None:
                outcome = future.result()
                self.outcomes[outcome.action] += 1
                self.api_calls += outcome.api_calls
                slot[1] = "ok"
                if self.on_outcome:
                    self.on_outcome(outcome, None)
            else:
                slot[1] = "failed"
                self.outcomes["error"] += 1
                if len(self.errors) < MAX_ERRORS_KEPT:  # the count is in outcomes; the first ones say why
                    self.errors.append({"position": slot[0], "error": f"{type(error).__name__}: {error}"[:500]})
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
        while self._running:
            self._collect(block=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# ---- the checkpoint ----------------------------------------------------------------------------------------------
class StateFile:
    """The checkpoint of one source in a small JSON file, replaced atomically (a crash mid-write keeps the old)."""

    def __init__(self, path: Path, source: str) -> None:
        self.path, self.source = Path(path), source

    def load(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError as e:
            raise ConfigurationError(f"state file {self.path} is not JSON ({e}): delete it or pass --restart") from None
        if state.get("source") != self.source:
            raise ConfigurationError(
                f"state file {self.path} belongs to {state.get('source')!r}, not {self.source!r}: "
                "pass another --state file or --restart")
        return state

    def save(self, checkpoint: str | None, done: bool, totals: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps({"source": self.source, "checkpoint": checkpoint, "done": done, "totals": totals},
                                  ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def default_state_path(home: Path, source: str) -> Path:
    import hashlib

    return Path(home) / "backfill" / f"{hashlib.sha256(source.encode()).hexdigest()[:16]}.json"


# ---- the use case ------------------------------------------------------------------------------------------------
@dataclass
class Backfill:
    source: Source
    index: Index | None  # None: cannot look documents up, send everything (the handler still skips unchanged)
    sink: QueueSink | DirectSink | None  # None: dry run
    limiter: TokenBucket | None = None
    force: bool = False  # send unchanged files too (and without their ETag, so the pipeline analyses them again)
    progress: Callable[[int, int], None] | None = None  # (files listed, files sent) since the last call
    save: Callable[[str | None, bool, dict[str, Any]], None] | None = None
    clock: Callable[[], float] = time.monotonic

    def run(self, start_after: str | None = None, deadline: Callable[[], bool] | None = None,
            carried: dict[str, Any] | None = None, estimate: "Estimate | None" = None) -> Summary:
        """List from `start_after`, hand over what needs indexing, save the checkpoint as it moves; stop early
        (done=False) when `deadline()` says time is up."""
        mode = "dry-run" if self.sink is None else ("queue" if isinstance(self.sink, QueueSink) else "direct")
        summary = Summary(source=self.source.describe(), mode=mode, checkpoint=start_after)
        if carried:
            summary.merge(carried)
        started = self.clock()
        try:
            finished = self._run(summary, start_after, deadline, estimate)
        finally:
            if isinstance(self.sink, DirectSink):
                self.sink.drain()
                self._direct_checkpoint(summary)
                summary.outcomes.update(self.sink.outcomes)
                summary.api_calls += self.sink.api_calls
                summary.errors.extend(self.sink.errors)
                self.sink.outcomes, self.sink.errors, self.sink.api_calls = Counter(), [], 0
            summary.elapsed_s = round(self.clock() - started, 3)
        summary.done = finished and not summary.errors
        self._save(summary)
        return summary

    def _run(self, summary: Summary, start_after: str | None, deadline: Callable[[], bool] | None,
             estimate: "Estimate | None") -> bool:
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
            if isinstance(self.sink, DirectSink):
                wanted_ids = {id(item) for item in wanted}
                for item in page:
                    if id(item) in wanted_ids:
                        self._throttle(1)
                        self.sink.submit(created_event(item.info, self.force), item.position)
                        summary.sent += 1
                    else:
                        self.sink.mark_done(item.position)
            if isinstance(self.sink, DirectSink):
                self._direct_checkpoint(summary)
            elif isinstance(self.sink, QueueSink):
                self._enqueue_page(page, wanted, summary)
            else:  # dry run
                if estimate is not None:
                    estimate.add([item.info for item in wanted])
                summary.checkpoint = page[-1].position
            if self.progress:
                self.progress(len(page), len(wanted))
        return True

    def _enqueue_page(self, page: list[Listed], wanted: list[Listed], summary: Summary) -> None:
        """Send in batches of ten in key order; after each accepted batch the checkpoint moves to the last key
        handed over (skipped keys between batches move it too)."""
        assert isinstance(self.sink, QueueSink)
        wanted_ids = {id(item) for item in wanted}
        batch: list[Listed] = []
        for item in page:
            if id(item) in wanted_ids:
                batch.append(item)
                if len(batch) == SQS_BATCH:
                    self._send(batch, summary)
                    batch = []
            elif not batch:
                summary.checkpoint = item.position  # nothing pending before it: safe to move past
        if batch:
            self._send(batch, summary)
        summary.checkpoint = page[-1].position
        self._save(summary)

    def _send(self, batch: list[Listed], summary: Summary) -> None:
        assert isinstance(self.sink, QueueSink)
        self._throttle(len(batch))
        self.sink.send([created_event(item.info, self.force) for item in batch])
        summary.sent += len(batch)
        summary.checkpoint = batch[-1].position
        self._save(summary)

    def _throttle(self, n: int) -> None:
        if self.limiter is not None:
            self.limiter.acquire(n)

    def _direct_checkpoint(self, summary: Summary) -> None:
        assert isinstance(self.sink, DirectSink)
        position = self.sink.checkpoint()
        if position is not None:
            summary.checkpoint = position
            self._save(summary)

    def _save(self, summary: Summary) -> None:
        if self.save is not None and self.sink is not None:
            totals = {k: v for k, v in summary.to_dict().items() if k not in ("errors", "checkpoint", "done")}
            self.save(summary.checkpoint, summary.done, totals)


# ---- dry-run estimate --------------------------------------------------------------------------------------------
@dataclass
class Estimate:
    features: Sequence[str]
    faces_per_image: float = DEFAULT_FACES_PER_IMAGE
    video_seconds: float = DEFAULT_VIDEO_SECONDS
    video_interval: float = 6.0
    files: int = 0
    bytes: int = 0
    by_kind: Counter = field(default_factory=Counter)
    bytes_by_kind: Counter = field(default_factory=Counter)

    def add(self, infos: Iterable[ObjectInfo]) -> None:
        for info in infos:
            kind = media_kind(info.ref.key)
            self.files += 1
            self.bytes += info.size
            self.by_kind[kind] += 1
            self.bytes_by_kind[kind] += info.size

    @property
    def frames_per_video(self) -> float:
        return max(1.0, self.video_seconds / self.video_interval)

    def calls(self) -> dict[str, float]:
        """Rekognition calls by API: every picture, and every sampled video frame, is one picture's calls."""
        pictures = self.by_kind["image"] + self.by_kind["video"] * self.frames_per_video
        return {api: round(n * pictures, 1) for api, n in calls_per_image(self.features, self.faces_per_image).items()}

    def cost_usd(self) -> dict[str, float]:
        return {api: round(n / 1000 * PRICE_PER_1000_USD[api], 2) for api, n in self.calls().items()}

    def to_dict(self, rate: float | None = None) -> dict[str, Any]:
        calls = self.calls()
        cost = self.cost_usd()
        total_calls = sum(calls.values())
        return {
            "files": self.files,
            "bytes": self.bytes,
            "images": self.by_kind["image"],
            "videos": self.by_kind["video"],
            "other": self.by_kind["other"],
            "bytes_by_kind": dict(self.bytes_by_kind),
            "rekognition_calls": calls,
            "rekognition_calls_total": round(total_calls, 1),
            "list_price_usd": cost,
            "list_price_usd_total": round(sum(cost.values()), 2),
            "hours_at_rate": round(self.files / rate / 3600, 2) if rate else None,
            "assumptions": {
                "kind_by_extension": "images and videos are told apart by extension; 'other' files cost nothing "
                                     "(the pipeline marks what it cannot read as failed)",
                "faces_per_image": self.faces_per_image,
                "search_faces": "one SearchFacesByImage per detected face, when people are matched",
                "video_seconds": self.video_seconds,
                "video_frames_each": round(self.frames_per_video, 1),
                "features": list(self.features),
                "prices": f"USD per 1,000 calls, {PRICES_REGION}, first tier, as of {PRICES_AS_OF}: "
                          + ", ".join(f"{api} {p:.2f}" for api, p in PRICE_PER_1000_USD.items()),
            },
        }


def deadline_after(seconds: float, clock: Callable[[], float] = time.monotonic) -> Callable[[], bool]:
    end = clock() + seconds
    return lambda: clock() >= end
