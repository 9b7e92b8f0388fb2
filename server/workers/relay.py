"""The outbox relay: publishes committed events in order and marks them published.

An event is marked published only once the bus has acknowledged it, so a crash at any
point leaves it pending and it is sent again after restart (at-least-once; consumers
drop duplicates). Batches are pipelined: the next batch is read and sent while earlier
ones await their acknowledgements. On PostgreSQL one relay at a time holds an advisory
lock and the others stand by, which keeps events in order per user across replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Row, Text, cast, func, select, text, update

from server.backoff import RETRY
from server.db import Database, utcnow
from server.events.bus import EventBus
from server.events.models import OutboxEvent

logger = logging.getLogger(__name__)

# Any fixed 64-bit number shared by every relay of a deployment.
RELAY_LOCK_ID = 0x746F646F5F72656C  # "todo_rel"


@dataclass(slots=True)
class _Batch:
    ids: list[int]
    acks: asyncio.Future


@dataclass(slots=True)
class OutboxRelay:
    """Moves pending outbox rows onto the bus; see the module docstring."""

    db: Database
    bus: EventBus
    batch_size: int = 1000
    poll_seconds: float = 0.025
    max_in_flight: int = 20_000
    standby_seconds: float = 2.0
    on_published: Callable[[int], None] | None = None

    async def run(self) -> None:
        """Relay until cancelled; failures are logged and retried with backoff."""
        failures = 0
        while True:
            try:
                async with self._leadership() as still_leader:
                    failures = 0
                    await self._relay(still_leader)
            except asyncio.CancelledError:
                raise
            except Exception:  # broker or database down: keep the rows pending and retry
                failures += 1
                delay = RETRY.delay(failures)
                logger.exception("outbox relay failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)

    async def relay_pending(self) -> int:
        """Publish every pending event once and wait for the acknowledgements (tests, CLI)."""
        published = 0
        while rows := await self._pending(after=0):
            await (await self._send(rows))
            await self._mark_published([row.id for row in rows])
            published += len(rows)
        return published

    # -- the pipelined loop ---------------------------------------------------

    async def _relay(self, still_leader: Callable[[], Awaitable[None]]) -> None:
        in_flight: deque[_Batch] = deque()
        unacked = 0
        cursor = 0
        last_check = time.monotonic()
        try:
            while True:
                # Events sent but not yet acknowledged: a slow consumer in process (say,
                # email retrying) holds its acks without holding up the other consumers.
                reading = unacked < self.max_in_flight
                rows = await self._pending(after=cursor) if reading else []
                if rows:
                    in_flight.append(_Batch([row.id for row in rows], await self._send(rows)))
                    unacked += len(rows)
                    cursor = rows[-1].id
                unacked -= await self._settle(in_flight, wait=not rows)
                if not reading or len(rows) == self.batch_size:
                    continue  # a backlog: read on as soon as there is room
                if not in_flight:
                    # Idle: look from the start again for rows committed late or queued again.
                    cursor = 0
                    if time.monotonic() - last_check > 5:
                        await still_leader()
                        last_check = time.monotonic()
                # Caught up: let a few more events gather rather than read them one by one.
                await asyncio.sleep(self.poll_seconds)
        finally:
            for batch in in_flight:
                batch.acks.add_done_callback(_consume_outcome)

    async def _send(self, rows: list[Row]) -> asyncio.Future:
        """Send rows in id order, batched per topic; one acknowledgement for them all."""
        by_topic: dict[str, list[tuple[str, str]]] = {}
        for row in rows:
            by_topic.setdefault(row.topic, []).append((row.key, row.envelope))
        acks = [await self.bus.send_many(topic=t, events=events) for t, events in by_topic.items()]
        return asyncio.gather(*acks)

    async def _settle(self, in_flight: deque[_Batch], *, wait: bool) -> int:
        """Mark acknowledged batches published (returns how many events); raise if the bus
        refused one."""
        if wait and in_flight and not in_flight[0].acks.done():
            await asyncio.wait([in_flight[0].acks], timeout=self.poll_seconds)
        done = [batch for batch in in_flight if batch.acks.done()]
        if not done:
            return 0
        published: list[int] = []
        error: BaseException | None = None
        for batch in done:
            in_flight.remove(batch)
            if batch.acks.cancelled():
                error = error or ConnectionError("the bus dropped an acknowledgement")
            elif batch.acks.exception() is not None:
                error = error or batch.acks.exception()
            else:
                published += batch.ids
        if published:
            await self._mark_published(published)
        if error is not None:
            raise error
        return sum(len(batch.ids) for batch in done)

    # -- storage --------------------------------------------------------------

    async def _pending(self, *, after: int) -> list[Row]:
        """The next pending events; each envelope as its stored JSON text (sent as is)."""
        stmt = (
            select(
                OutboxEvent.id,
                OutboxEvent.topic,
                OutboxEvent.key,
                cast(OutboxEvent.envelope, Text).label("envelope"),
            )
            .where(OutboxEvent.published_at.is_(None), OutboxEvent.id > after)
            .order_by(OutboxEvent.id)
            .limit(self.batch_size)
        )
        async with self.db.session() as session:
            return list(await session.execute(stmt))

    async def _mark_published(self, ids: list[int]) -> None:
        now = utcnow()
        async with self.db.transaction() as session:
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                await session.execute(
                    update(OutboxEvent).where(OutboxEvent.id.in_(chunk)).values(published_at=now)
                )
        if self.on_published is not None:
            self.on_published(len(ids))

    @contextlib.asynccontextmanager
    async def _leadership(self) -> AsyncIterator[Callable[[], Awaitable[None]]]:
        """On PostgreSQL, hold the relay lock (standing by until it is free)."""
        if self.db.is_sqlite:

            async def always() -> None:
                return None

            yield always
            return
        async with self.db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            lock = select(func.pg_try_advisory_lock(RELAY_LOCK_ID))
            while True:
                if await conn.scalar(lock):
                    break
                await asyncio.sleep(self.standby_seconds)  # another relay is active
            logger.info("outbox relay is the active relay")

            async def check() -> None:
                await conn.execute(text("SELECT 1"))  # raises when the lock's session is gone

            try:
                yield check
            finally:
                try:
                    await conn.scalar(select(func.pg_advisory_unlock(RELAY_LOCK_ID)))
                except Exception:  # never hand a connection that may hold the lock back
                    await conn.invalidate()


def _consume_outcome(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
