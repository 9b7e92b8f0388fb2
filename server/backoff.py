"""Exponential backoff: how long to wait before the next attempt after a failure.

One policy for every retry loop (outbox relay, Kafka consumers, event delivery, email), so
they all back off the same way and a change of mind is made in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """`first` seconds after the first failure, doubling up to `cap`."""

    first: float = 0.2
    cap: float = 5.0

    def delay(self, failures: int) -> float:
        """The wait after `failures` consecutive failures (1 or more)."""
        return min(self.cap, self.first * 2 ** max(0, failures - 1))

    def total(self, failures: int) -> float:
        """The sum of the waits before attempts 2 to `failures` + 1."""
        return sum(self.delay(n) for n in range(1, failures + 1))


RETRY = Backoff()
