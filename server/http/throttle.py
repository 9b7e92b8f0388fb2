"""A small in-process request limiter for the routes that need one of their own (the
calendar feed): at most `limit` requests per `window` seconds for each key, counted in fixed
windows, in memory (each replica counts its own). It remembers at most `max_keys` keys,
forgetting the least recently seen first, so a flood of distinct keys costs bounded memory.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from server.errors import Throttled


class Throttle:
    def __init__(
        self,
        *,
        limit: int,
        window: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def check(self, key: str, what: str) -> None:
        """Count one request for `key`; Throttled (naming `what`) past the limit."""
        now = self.clock()
        started, count = self._counts.pop(key, (now, 0))
        if now - started >= self.window:
            started, count = now, 0
        self._counts[key] = (started, count + 1)
        while len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
        if count >= self.limit:
            retry_after = max(1, math.ceil(started + self.window - now))
            raise Throttled(
                f"too many {what}; try again in {retry_after} s", retry_after=retry_after
            )


class FeedThrottle:
    """Calendar feed requests: per client address (which also bounds guessing keys) and per
    feed key (a calendar app polling far too often)."""

    PER_ADDRESS = 30
    PER_KEY = 20
    WINDOW_SECONDS = 60.0

    def __init__(self) -> None:
        self.by_address = Throttle(limit=self.PER_ADDRESS, window=self.WINDOW_SECONDS)
        self.by_key = Throttle(limit=self.PER_KEY, window=self.WINDOW_SECONDS)

    def check(self, *, address: str, key: str) -> None:
        self.by_address.check(address, "calendar feed requests from this address")
        self.by_key.check(key, "requests for this calendar feed")
