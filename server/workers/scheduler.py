"""The deadline scheduler: every few seconds, fire the deadline alerts that have come due.

What is due and how it fires once is the tasks domain's (server/tasks/deadlines.py); this
worker only runs it on a timer, batch after batch, and reports each tick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from server.db import utcnow
from server.tasks.deadlines import DeadlineService
from server.workers.periodic import every

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class TickResult:
    found: int = 0
    emitted: int = 0
    skipped: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class DeadlineScheduler:
    """Runs `tick` every `interval_seconds`."""

    deadlines: DeadlineService
    interval_seconds: float
    batch_size: int = 500
    on_tick: Callable[[TickResult], None] | None = None

    async def run(self) -> None:
        await every(self.interval_seconds, self.tick, "deadline scheduler tick")

    async def tick(self, now: datetime | None = None) -> TickResult:
        """Fire every alert due at `now` (default: the current time)."""
        now = now or utcnow()
        started = time.perf_counter()
        result = TickResult()
        while True:
            fired = await self.deadlines.fire_batch(now, self.batch_size)
            result.found += fired.found
            result.emitted += fired.emitted
            result.skipped += fired.skipped
            if fired.found < self.batch_size:
                break
        result.seconds = time.perf_counter() - started
        level = logging.INFO if result.found else logging.DEBUG
        logger.log(
            level,
            "scheduler tick: found %d due, emitted %d, skipped %d in %.1f ms",
            result.found,
            result.emitted,
            result.skipped,
            result.seconds * 1000,
        )
        if self.on_tick is not None:
            self.on_tick(result)
        return result
