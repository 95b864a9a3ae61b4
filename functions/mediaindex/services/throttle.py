"""A token bucket: how the bulk use cases keep to a rate (files a second) without a thread of their own."""

from __future__ import annotations

import threading
import time
from typing import Callable

from mediaindex.domain.errors import ConfigurationError

# Saved-up tokens by default: a queue batch's worth (ten messages a SendMessageBatch) at least.
DEFAULT_BURST = 10


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
        self.burst = float(burst if burst is not None else max(rate, DEFAULT_BURST))
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
