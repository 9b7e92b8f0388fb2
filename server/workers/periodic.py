"""Run a step every so often until cancelled: the loop the scheduler and retention share."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def every(interval_seconds: float, step: Callable[[], Awaitable[object]], what: str) -> None:
    """Call `step` now and then every `interval_seconds` (start to start) until cancelled.

    A failed step (say, the database is unavailable) is logged and the next one tries again.
    """
    while True:
        started = time.monotonic()
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s failed; trying again in %.1fs", what, interval_seconds)
        await asyncio.sleep(max(0.0, interval_seconds - (time.monotonic() - started)))
