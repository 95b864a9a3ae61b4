"""The IndexRequestSink port without AWS: the SQS sink's batches and checkpoint on a recording client, the direct
sink's low-water mark, and the backfill use case on a sink that only records what it is told."""

from __future__ import annotations

import json
import threading

import pytest

from mediaindex.adapters.queue.sqs import SQS_BATCH, QueueSink
from mediaindex.domain.errors import TransientError
from mediaindex.domain.messages import Outcome, OutcomeTally, StorageEvent
from mediaindex.ports import Listed, ObjectInfo, ObjectRef
from mediaindex.services.backfill import Backfill, DirectSink


def info(key: str) -> ObjectInfo:
    return ObjectInfo(ObjectRef("media", key), size=3, etag=f"etag-{key}")


class RecordingSQS:
    def __init__(self, fail_from_call: int | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_from_call = fail_from_call

    def send_message_batch(self, QueueUrl, Entries):  # noqa: N803 - boto3's names
        if self.fail_from_call is not None and len(self.batches) + 1 >= self.fail_from_call:
            raise ConnectionError("SQS is down")
        keys = [json.loads(e["MessageBody"])["Records"][0]["s3"]["object"]["key"] for e in Entries]
        self.batches.append(keys)
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


def test_the_queue_sends_in_tens_and_moves_the_checkpoint_only_past_what_it_handed_over():
    sqs = RecordingSQS()
    sink = QueueSink(sqs, "https://queue", sleep=lambda s: None)
    sink.skip("a")  # nothing pending: the checkpoint may pass it
    assert sink.checkpoint() == "a" and sink.checkpoint() is None  # told once
    handed = [sink.submit(StorageEvent.listed(info(f"k{i:02d}")), f"k{i:02d}") for i in range(SQS_BATCH - 1)]
    sink.skip("k09-skipped")  # behind nine pending files: holds until they are sent
    assert sum(handed) == 0 and sink.checkpoint() is None
    assert sink.submit(StorageEvent.listed(info("k10")), "k10") == SQS_BATCH
    assert sink.checkpoint() == "k10" and len(sqs.batches) == 1
    sink.submit(StorageEvent.listed(info("k11")), "k11")
    sink.skip("zz-last")
    assert sink.flush() == 1 and sink.checkpoint() == "zz-last"
    assert [len(b) for b in sqs.batches] == [10, 1] and sqs.batches[1] == ["k11"]
    assert sink.take_results() == OutcomeTally()


def test_a_batch_the_queue_never_takes_keeps_the_checkpoint_before_it():
    sink = QueueSink(RecordingSQS(fail_from_call=1), "https://queue", sleep=lambda s: None)
    sink.skip("a")
    sink.checkpoint()
    for key in ("b", "c"):
        sink.submit(StorageEvent.listed(info(key)), key)
    with pytest.raises(TransientError):
        sink.flush()
    assert sink.checkpoint() is None  # still "a"


def test_the_direct_sink_checkpoint_never_passes_a_file_not_finished_nor_one_that_failed():
    release = threading.Event()

    def handle(event):
        if event.ref.key == "b":
            release.wait(5)
        if event.ref.key == "d":
            raise RuntimeError("bad file")
        return Outcome("indexed", event.ref, "id", api_calls=2)

    sink = DirectSink(handle, workers=2)
    try:
        for key in ("a", "b", "c"):
            sink.submit(StorageEvent.listed(info(key)), key)
        sink.skip("c2")
        pause = threading.Event()
        while sink.outcomes["indexed"] < 2 and not pause.wait(0.01):
            sink._runner.collect(block=False)  # what submit does between files, without another file
        assert sink.checkpoint() == "a"  # b is still running
        release.set()
        sink.drain()
        assert sink.checkpoint() == "c2"
        sink.submit(StorageEvent.listed(info("d")), "d")
        sink.submit(StorageEvent.listed(info("e")), "e")
        sink.drain()
        assert sink.checkpoint() is None  # d failed: a rerun must try it again
        results = sink.take_results()
        assert results.outcomes == {"indexed": 4, "error": 1} and results.api_calls == 8
        assert results.failures == [{"position": "d", "error": "RuntimeError: bad file"}]
        assert sink.take_results() == OutcomeTally()
    finally:
        sink.close()


class Pages:
    bucket = "media"

    def __init__(self, *pages: list[str]) -> None:
        self._pages = pages

    def describe(self) -> str:
        return "pages"

    def pages(self, position):
        for keys in self._pages:
            yield [Listed(info(k), k) for k in keys if position is None or k > position]


class RecordingSink:
    """The port, recording: hands everything over at once, checkpoint at the last position seen."""

    mode = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._last: str | None = None

    def submit(self, event, position):
        self.calls.append(("submit", position))
        self._last = position
        return 1

    def skip(self, position):
        self.calls.append(("skip", position))
        self._last = position

    def flush(self):
        self.calls.append(("flush", ""))
        return 0

    def checkpoint(self):
        last, self._last = self._last, None
        return last

    def drain(self):
        self.calls.append(("drain", ""))

    def take_results(self):
        tally = OutcomeTally()
        tally.add("indexed", api_calls=1)
        return tally


def test_the_backfill_talks_to_any_sink_through_the_port():
    sink = RecordingSink()
    saved = []
    summary = Backfill(Pages(["a", "b"], ["c"]), None, sink, save=lambda c, done, t: saved.append((c, done))).run()
    assert sink.calls == [("submit", "a"), ("submit", "b"), ("flush", ""), ("submit", "c"), ("flush", ""),
                          ("drain", "")]
    assert summary.mode == "recording" and summary.sent == 3 and summary.done
    assert summary.outcomes == {"indexed": 1} and summary.api_calls == 1
    assert saved[-1] == ("c", True) and [c for c, _ in saved[:-1]] == ["a", "b", "c"]
