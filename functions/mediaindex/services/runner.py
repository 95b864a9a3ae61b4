"""One way to run index requests on a pool of workers, for every bulk use case (`mediaindex index`, backfill and
reconcile in direct mode): at most `window` calls in flight, each finished call handed on as it finishes, and one
tally of what came of them."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from mediaindex.domain.messages import Outcome, StorageEvent

# What runs one index request: Pipeline.handle, or a router in front of it (people enrolment).
Handle = Callable[[StorageEvent], Outcome]


class WorkerRunner:
    """Runs `fn(*args)` calls on an executor (None: each at once, in this thread), keeping at most `window` in
    flight, and gives each finished call to `on_done(tag, future)`. When a process pool breaks (a worker died),
    the calls that finished before are handed on and `on_broken(tags)` gets the tags of those it took down with
    it; without `on_broken` the error is the call's like any other."""

    def __init__(self, executor: Executor | None, window: int, on_done: Callable[[Any, Future], None],
                 on_broken: Callable[[list[Any]], None] | None = None) -> None:
        self.executor, self.window = executor, max(1, window)
        self.on_done, self.on_broken = on_done, on_broken
        self.running: dict[Future, Any] = {}

    def submit(self, tag: Any, fn: Callable[..., Any], *args: Any) -> None:
        while len(self.running) >= self.window:
            self.collect(block=True)
        if self.executor is None:
            future: Future = Future()
            try:
                future.set_result(fn(*args))
            except Exception as e:  # noqa: BLE001 - the call's own failure, handed on as a pool would
                future.set_exception(e)
        else:
            future = self.executor.submit(fn, *args)
        self.running[future] = tag
        self.collect(block=False)

    def collect(self, block: bool) -> None:
        """Hand on the calls that are finished; with `block`, wait for one first."""
        if not self.running:
            return
        done, _ = wait(list(self.running), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            if future not in self.running:  # already handed to on_broken with the rest of a broken pool
                continue
            if self.on_broken is not None and not future.cancelled() and isinstance(future.exception(),
                                                                                   BrokenProcessPool):
                self._broken(future)
                return
            self.on_done(self.running.pop(future), future)

    def _broken(self, first: Future) -> None:
        assert self.on_broken is not None
        suspects = [self.running.pop(first)]
        for future, tag in list(self.running.items()):  # finished before the pool broke: keep those
            if future.done() and not future.cancelled() and future.exception() is None:
                self.on_done(self.running.pop(future), future)
        suspects.extend(self.running.values())
        self.running.clear()
        self.on_broken(suspects)

    def drain(self) -> None:
        while self.running:
            self.collect(block=True)

    def cancel_waiting(self) -> None:
        """Drop the calls that have not started (Ctrl-C): those running go on."""
        for future in list(self.running):
            if future.cancel():
                self.running.pop(future)

    def abandon(self) -> None:
        """Forget every call in flight (their results are not wanted any more)."""
        self.running.clear()
