"""A circuit breaker in front of a dependency that fails for a while (the language model
provider, a remote MCP server): after `failures` failed calls in a row it opens, and calls
fail at once for `cooldown` seconds instead of each waiting through its timeouts and
retries; then one trial call is let through, which closes it again or reopens it.

    async with breaker.guard(counts=lambda exc: ...):   # BreakerOpen while open
        ... the call ...

It lives in one process and needs no lock: its state changes only between awaits.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

State = Literal["closed", "open", "half_open"]


class BreakerOpen(Exception):
    """The breaker refused a call; `retry_in` is when (in seconds) it will allow a trial."""

    def __init__(self, name: str, failures: int, retry_in: float) -> None:
        super().__init__(f"{name}: open after {failures} failures; retry in {retry_in:.0f} s")
        self.name = name
        self.failures = failures
        self.retry_in = retry_in


@dataclass(frozen=True, slots=True)
class Snapshot:
    state: State
    consecutive_failures: int
    retry_in_seconds: float | None
    rejected: int
    opened: int


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failures: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.threshold = failures
        self.cooldown = cooldown
        self.clock = clock
        self.state: State = "closed"
        self.consecutive_failures = 0
        self.rejected = 0  # calls refused while open
        self.opened = 0  # times it opened
        self._opened_at = 0.0
        self._trial_running = False

    def before(self) -> None:
        """Allow a call now, or raise BreakerOpen; after the cool-down, one trial at a time."""
        if self.state == "closed":
            return
        if self.state == "open" and self._retry_in() > 0:
            self._reject()
        if self._trial_running:
            self._reject()
        self.state = "half_open"
        self._trial_running = True

    def succeeded(self) -> None:
        self.state = "closed"
        self.consecutive_failures = 0
        self._trial_running = False

    def failed(self) -> None:
        self.consecutive_failures += 1
        if self.state == "half_open" or self.consecutive_failures >= self.threshold:
            if self.state != "open":
                self.opened += 1
            self.state = "open"
            self._opened_at = self.clock()
        self._trial_running = False

    def released(self) -> None:
        """A call ended with no verdict (cancelled): a trial slot is free again."""
        self._trial_running = False

    @asynccontextmanager
    async def guard(self, *, counts: Callable[[BaseException], bool]) -> AsyncIterator[None]:
        """Run the block as one call: an exception `counts` says is the dependency's fault
        is a failure; any other outcome in which it answered is a success."""
        self.before()
        try:
            yield
        except BaseException as exc:
            if counts(exc):
                self.failed()
            elif isinstance(exc, Exception):
                self.succeeded()  # it answered; the error is the caller's
            else:
                self.released()  # cancelled, or the generator was closed
            raise
        else:
            self.succeeded()

    def snapshot(self) -> Snapshot:
        retry_in = round(self._retry_in(), 1) if self.state == "open" else None
        return Snapshot(self.state, self.consecutive_failures, retry_in, self.rejected, self.opened)

    def _retry_in(self) -> float:
        return max(0.0, self._opened_at + self.cooldown - self.clock())

    def _reject(self) -> None:
        self.rejected += 1
        raise BreakerOpen(self.name, self.consecutive_failures, max(self._retry_in(), 1.0))
