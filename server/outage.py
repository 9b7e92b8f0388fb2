"""Quiet logging of something that keeps failing: one WARNING when it starts, a summary now
and then while it lasts, one INFO when it is over; the failures in between go to DEBUG."""

from __future__ import annotations

import logging
import time


class OutageLog:
    """Logs the failures of one thing (a broker, the relay) as outages, not as a flood."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        failing: str = "is failing",
        back: str = "works again",
        summary_seconds: float = 60.0,
    ) -> None:
        self.logger = logger
        self.what = what
        self.failing = failing
        self.back = back
        self.summary_seconds = summary_seconds
        self.since: float | None = None
        self.failures = 0
        self._next_summary = 0.0

    @property
    def down(self) -> bool:
        return self.since is not None

    def down_for(self) -> float:
        """Seconds since the outage began (0 when there is none)."""
        return 0.0 if self.since is None else time.monotonic() - self.since

    def failed(self, error: BaseException | str, *, traceback: bool = False) -> None:
        """Record a failure; `traceback` logs the first one's (an error nobody expected)."""
        now = time.monotonic()
        self.failures += 1
        if self.since is None:
            self.since = now
            self._next_summary = now + self.summary_seconds
            self.logger.warning(
                "%s %s: %s", self.what, self.failing, _text(error), exc_info=traceback or None
            )
        elif now >= self._next_summary:
            self._next_summary = now + self.summary_seconds
            self.logger.warning(
                "%s %s for %.0fs (%d failures, the last: %s)",
                self.what,
                self.failing,
                now - self.since,
                self.failures,
                _text(error),
            )
        else:
            self.logger.debug("%s %s: %s", self.what, self.failing, _text(error))

    def ok(self) -> None:
        """Record a success: ends the outage, if there was one."""
        if self.since is None:
            return
        self.logger.info(
            "%s %s after %.1fs (%d failures)",
            self.what,
            self.back,
            time.monotonic() - self.since,
            self.failures,
        )
        self.since = None
        self.failures = 0


def _text(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
