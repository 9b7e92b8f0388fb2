"""Batch progress told from inside a unit of work and sent from the event loop.

A task write runs as one sync unit (`Database.run_session`): on SQLite on the database
thread, on PostgreSQL in SQLAlchemy's greenlet bridge. Neither can await the caller's
async reporter (MCP progress notifications), so the unit calls a plain `tell(done)`, and
`relayed` sends each count, in order, from a task it owns on the caller's loop; every
count told is sent before `relayed` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

logger = logging.getLogger(__name__)

# Told how many items of a batch are done (MCP progress).
Progress = Callable[[int], Awaitable[None]]
# What a unit of work calls, from whichever thread runs it.
Tell = Callable[[int], None]


async def no_progress(done: int) -> None:
    return None


def _ignore(done: int) -> None:
    return None


@contextlib.asynccontextmanager
async def relayed(progress: Progress) -> AsyncIterator[Tell]:
    """A `tell` for the unit run inside; the counts reach `progress` in order."""
    if progress is no_progress:
        yield _ignore
        return
    loop = asyncio.get_running_loop()
    counts: asyncio.Queue[int | None] = asyncio.Queue()

    async def send() -> None:
        while (done := await counts.get()) is not None:
            try:
                await progress(done)
            except Exception:  # advisory: a lost notification must not fail the change
                logger.warning("a batch's progress could not be sent", exc_info=True)

    def tell(done: int) -> None:
        loop.call_soon_threadsafe(counts.put_nowait, done)

    sender = asyncio.create_task(send())
    try:
        yield tell
    except BaseException:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        raise
    counts.put_nowait(None)
    await sender
