"""services/runner.py: the one worker runner of the bulk use cases, and the tally of what came of the files."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from mediaindex.domain.messages import MAX_FAILURES_KEPT, OutcomeTally
from mediaindex.services.runner import WorkerRunner


def test_without_an_executor_each_call_runs_at_once_and_its_error_is_handed_on():
    done: list[tuple[str, object]] = []

    def on_done(tag, future):
        done.append((tag, future.exception() or future.result()))

    runner = WorkerRunner(None, window=4, on_done=on_done)
    runner.submit("a", lambda x: x * 2, 21)
    runner.submit("b", lambda: 1 / 0)
    assert done[0] == ("a", 42)
    assert done[1][0] == "b" and isinstance(done[1][1], ZeroDivisionError)
    assert not runner.running


def test_no_more_than_the_window_is_in_flight_on_a_pool():
    lock = threading.Lock()
    now = {"in": 0, "most": 0}

    def work(i):
        with lock:
            now["in"] += 1
            now["most"] = max(now["most"], now["in"])
        time.sleep(0.01)
        with lock:
            now["in"] -= 1
        return i

    results = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        runner = WorkerRunner(pool, window=3, on_done=lambda tag, f: results.append(f.result()))
        for i in range(20):
            runner.submit(i, work, i)
            assert len(runner.running) <= 3
        runner.drain()
    assert sorted(results) == list(range(20)) and now["most"] <= 3


class HeldExecutor:
    """Hands out futures the test finishes itself."""

    def __init__(self) -> None:
        self.futures: list[Future] = []

    def submit(self, fn, *args):
        future: Future = Future()
        self.futures.append(future)
        return future


def test_a_broken_pool_hands_on_what_finished_and_names_what_it_took_down():
    executor = HeldExecutor()
    done, broken = [], []
    runner = WorkerRunner(executor, window=10, on_done=lambda tag, f: done.append(tag),
                          on_broken=lambda tags: broken.extend(tags))
    for tag in ("first", "second", "third"):
        runner.submit(tag, print)
    first, second, _third = executor.futures
    second.set_result("ok")
    first.set_exception(BrokenProcessPool("a worker died"))
    runner.collect(block=True)
    assert done == ["second"]
    assert sorted(broken) == ["first", "third"] and not runner.running


def test_cancel_waiting_drops_what_has_not_started():
    executor = HeldExecutor()
    runner = WorkerRunner(executor, window=10, on_done=lambda tag, f: None)
    runner.submit("running", print)
    runner.submit("waiting", print)
    executor.futures[0].set_running_or_notify_cancel()  # started: cannot be cancelled any more
    runner.cancel_waiting()
    assert list(runner.running.values()) == ["running"]
    runner.abandon()
    assert not runner.running


def test_the_tally_counts_everything_and_keeps_the_first_failures():
    tally = OutcomeTally()
    for i in range(MAX_FAILURES_KEPT + 5):
        tally.add("error", api_calls=2, failure={"n": i})
    tally.add("indexed", api_calls=1)
    assert tally.outcomes == {"error": MAX_FAILURES_KEPT + 5, "indexed": 1}
    assert tally.api_calls == 2 * (MAX_FAILURES_KEPT + 5) + 1
    assert len(tally.failures) == MAX_FAILURES_KEPT and tally.failures[0] == {"n": 0}
