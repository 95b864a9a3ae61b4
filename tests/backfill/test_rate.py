"""The token bucket and the default rate, on an injected clock: no test waits."""

from __future__ import annotations

import pytest

from mediaindex.domain.errors import ConfigurationError
from mediaindex.services.estimate import DEFAULT_TPS, RATE_HEADROOM, calls_per_image, default_rate
from mediaindex.services.throttle import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_full_bucket_lets_a_burst_through_then_holds_the_rate():
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=10, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        assert bucket.acquire(1) == 0  # the burst is free
    assert clock.slept == []
    assert bucket.acquire(1) == pytest.approx(0.1)  # then one token every 1/rate seconds
    assert bucket.acquire(5) == pytest.approx(0.5)
    assert clock.now == pytest.approx(1000.6)


def test_over_a_long_run_the_rate_is_held_whatever_the_batch_size():
    clock = Clock()
    bucket = TokenBucket(rate=40, burst=10, clock=clock, sleep=clock.sleep)
    taken = 0
    for n in [10, 7, 10, 3, 10, 10, 1] * 50:
        bucket.acquire(n)
        taken += n
    elapsed = clock.now - 1000.0
    # at most the burst ahead of the rate
    assert taken <= 40 * elapsed + 10
    assert taken >= 40 * elapsed - 1e-6


def test_idle_time_refills_only_up_to_the_burst():
    clock = Clock()
    bucket = TokenBucket(rate=5, burst=10, clock=clock, sleep=clock.sleep)
    bucket.acquire(10)
    clock.now += 3600  # an hour idle saves no more than the burst
    assert bucket.try_acquire(10) is True
    assert bucket.try_acquire(1) is False
    assert bucket.wait_time(1) == pytest.approx(0.2)
    clock.now += 0.2
    assert bucket.try_acquire(1) is True


def test_a_batch_larger_than_the_burst_is_paid_by_waiting():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=1, clock=clock, sleep=clock.sleep)
    assert bucket.acquire(10) == pytest.approx(4.5)  # 1 in hand, 9 owed at 2 a second


def test_the_bucket_is_shared_by_threads_without_losing_tokens():
    import threading

    clock = Clock()
    lock = threading.Lock()

    def sleep(s: float) -> None:
        with lock:
            clock.sleep(s)

    bucket = TokenBucket(rate=100, burst=100, clock=clock, sleep=sleep)
    threads = [threading.Thread(target=lambda: [bucket.acquire(1) for _ in range(50)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 400 tokens taken, none lost to a race: the balance is the burst plus what the clock refilled, minus 400
    bucket.wait_time(0)
    assert bucket._tokens == pytest.approx(100 + 100 * (clock.now - 1000.0) - 400)
    assert clock.now - 1000.0 >= 3.0 - 1e-9  # 300 tokens beyond the burst at 100 a second


def test_a_rate_must_be_positive():
    with pytest.raises(ConfigurationError):
        TokenBucket(0)


def test_calls_per_image_follow_the_features():
    assert calls_per_image(("labels", "faces", "people"), 1.5) == {
        "DetectLabels": 1, "DetectFaces": 1, "SearchFacesByImage": 1.5}
    assert calls_per_image(("labels",)) == {"DetectLabels": 1}
    assert calls_per_image(("people",), 2) == {"DetectFaces": 1, "SearchFacesByImage": 2}  # people need faces
    assert calls_per_image(("labels", "text", "moderation")) == {
        "DetectLabels": 1, "DetectText": 1, "DetectModerationLabels": 1}


def test_the_default_rate_is_set_by_the_busiest_api():
    # one call per API per file: 80% of 50 TPS
    assert default_rate(("labels", "faces", "people"), 1.0) == pytest.approx(RATE_HEADROOM * 50)
    # two faces a picture: SearchFacesByImage makes two calls a file and decides
    assert default_rate(("labels", "faces", "people"), 2.0) == pytest.approx(RATE_HEADROOM * 25)
    # quotas differ by region: a region at 5 TPS
    assert default_rate(("labels",), tps={api: 5.0 for api in DEFAULT_TPS}) == pytest.approx(4.0)
