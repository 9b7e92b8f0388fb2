"""The small request limiter behind the calendar feed, on a clock the test moves."""

from __future__ import annotations

import pytest

from server.errors import Throttled
from server.http.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_past_its_limit_waits_for_the_next_window():
    clock = Clock()
    throttle = Throttle(limit=2, window=60, clock=clock)
    throttle.check("a", "requests")
    throttle.check("a", "requests")
    clock.now += 20

    with pytest.raises(Throttled) as refused:
        throttle.check("a", "requests")
    throttle.check("b", "requests")  # other keys count on their own
    clock.now += 40
    throttle.check("a", "requests")  # a new window

    assert refused.value.retry_after == 40
    assert refused.value.status == 429


def test_memory_is_bounded_by_forgetting_the_least_recent_keys():
    clock = Clock()
    throttle = Throttle(limit=1, window=60, max_keys=3, clock=clock)
    for key in ("a", "b", "c", "d"):
        throttle.check(key, "requests")

    throttle.check("a", "requests")  # forgotten, so counted afresh
    with pytest.raises(Throttled):
        throttle.check("d", "requests")
