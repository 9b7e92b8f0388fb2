"""The outbox relay: publishes committed events in order and marks them published.

An event is marked published only once the bus has acknowledged it, so a crash at any
point leaves it pending and it is sent again after restart (at-least-once; consumers
drop duplicates). Batches are pipelined: the next batch is read and sent while earlier
ones await their acknowledgements. On PostgreSQL one relay at a time holds an advisory
lock and the others stand by, which keeps events in order per user across replicas.

Rows just sent get the next number from `outbox_sequence` (see OutboxEvent), right away,
whatever their acknowledgements wait for: live streams read events in that order. When the
bus reports that the broker lost events it had acknowledged (it came back empty), the
events published shortly before are sent again: they may not have been consumed yet, and
consumers drop what they already handled.

A relay that keeps failing (the broker or the database is down) logs one warning, a
summary now and then, and one line when it publishes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, Text, cast, func, select, text, update

from server.backoff import RETRY
from server.db import DATABASE_DOWN, Database, utcnow
from server.errors import Unavailable
from server.events.bus import BusClosed, EventBus
from server.events.models import OutboxEvent, OutboxSequence
from server.outage import OutageLog

logger = logging.getLogger(__name__)

# Any fixed 64-bit number shared by every relay of a deployment.
RELAY_LOCK_ID = 0x746F646F5F72656C  # "todo_rel"
# After the broker lost acknowledged events, what was published this long before its last
# acknowledgement is sent again: what consumers lagging by less had not read yet.
RESEND_MARGIN = timedelta(minutes=10)
# What a relay expects to fail with while the broker or the database is away.
OUTAGE_ERRORS = (Unavailable, BusClosed, ConnectionError, TimeoutError, *DATABASE_DOWN)


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
    outage: OutageLog = field(
        default_factory=lambda: OutageLog(
            logger, "outbox relay", failing="cannot publish", back="publishes again"
        )
    )

    async def run(self) -> None:
        """Relay until cancelled; failures are logged and retried with backoff."""
        while True:
            try:
                async with self._leadership() as still_leader:
                    await self._relay(still_leader)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: keep the rows pending, retry
                expected = isinstance(exc, OUTAGE_ERRORS) or _is_kafka_error(exc)
                self.outage.failed(exc, traceback=not expected)
                delay = RETRY.delay(self.outage.failures)
                await asyncio.sleep(delay)

    async def relay_pending(self) -> int:
        """Publish every pending event once and wait for the acknowledgements (tests, CLI)."""
        published = 0
        while rows := await self._pending(after=0):
            await (await self._send(rows))
            ids = [row.id for row in rows]
            await self._record(sent=_unstamped(rows), published=ids)
            published += len(rows)
        return published

    # -- the pipelined loop ---------------------------------------------------

    async def _relay(self, still_leader: Callable[[], Awaitable[None]]) -> None:
        in_flight: deque[_Batch] = deque()
        sent: list[int] = []  # sent, not yet given their batch number
        unacked = 0
        cursor = 0
        last_check = time.monotonic()
        try:
            while True:
                lost_after = self.bus.take_loss()
                if lost_after is not None:
                    await self.resend_published_after(lost_after - RESEND_MARGIN)
                # Events sent but not yet acknowledged: a slow consumer in process (say,
                # email retrying) holds its acks without holding up the other consumers.
                reading = unacked < self.max_in_flight
                rows = await self._pending(after=cursor) if reading else []
                if rows:
                    in_flight.append(_Batch([row.id for row in rows], await self._send(rows)))
                    sent += _unstamped(rows)
                    unacked += len(rows)
                    cursor = rows[-1].id
                unacked -= await self._settle(in_flight, sent, wait=not rows)
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

    async def _settle(self, in_flight: deque[_Batch], sent: list[int], *, wait: bool) -> int:
        """Number what was sent (emptying `sent`) and mark acknowledged batches published;
        returns how many were acknowledged, raises if the bus refused one."""
        if wait and in_flight and not in_flight[0].acks.done():
            if sent:  # live streams read them as soon as they are numbered: do not wait
                await self._record(sent=sent, published=[])
                sent.clear()
            await asyncio.wait([in_flight[0].acks], timeout=self.poll_seconds)
        done = [batch for batch in in_flight if batch.acks.done()]
        if not done:
            if sent:
                await self._record(sent=sent, published=[])
                sent.clear()
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
        if published or sent:
            await self._record(sent=sent, published=published)
            sent.clear()
        if published:
            self.outage.ok()
        if error is not None:
            raise error
        return sum(len(batch.ids) for batch in done)

    async def resend_published_after(self, since: datetime) -> int:
        """Queue again the events published since `since`; returns how many."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.published_at >= since)
                .values(published_at=None)
                .execution_options(synchronize_session=False)
            )
        logger.log(
            logging.WARNING if result.rowcount else logging.DEBUG,
            "the broker lost events it had acknowledged (it came back empty): sending again "
            "the %d published since %s (consumers drop the ones they already handled)",
            result.rowcount,
            since.isoformat(timespec="seconds"),
        )
        return result.rowcount

    # -- storage --------------------------------------------------------------

    async def _pending(self, *, after: int) -> list[Row]:
        """The next pending events; each envelope as its stored JSON text (sent as is)."""
        stmt = (
            select(
                OutboxEvent.id,
                OutboxEvent.topic,
                OutboxEvent.key,
                cast(OutboxEvent.envelope, Text).label("envelope"),
                OutboxEvent.sent_batch,
            )
            .where(OutboxEvent.published_at.is_(None), OutboxEvent.id > after)
            .order_by(OutboxEvent.id)
            .limit(self.batch_size)
        )
        # `Database.run`: one hop to a database thread on SQLite, as the relay reads after
        # every burst of writes.
        return await self.db.run(lambda conn: list(conn.execute(stmt)))

    async def _record(self, *, sent: list[int], published: list[int]) -> None:
        """In one transaction: give the rows just `sent` the next batch number, mark the
        acknowledged ones `published`."""
        now = utcnow()

        def record(conn: Connection) -> None:
            if sent:
                # The row lock on the counter orders concurrent relays' numbers as they commit.
                batch = conn.scalar(
                    update(OutboxSequence)
                    .where(OutboxSequence.id == 1)
                    .values(last_batch=OutboxSequence.last_batch + 1)
                    .returning(OutboxSequence.last_batch)
                )
                _update_chunks(conn, sent, sent_batch=batch)
            if published:
                _update_chunks(conn, published, published_at=now)

        # On the database's writer (on SQLite the one thread that writes): a write lock
        # taken on another connection would keep the task writes waiting on SQLite's busy
        # timeout, which sleeps in steps of up to 100 ms.
        await self.db.run(record, write=True)
        if published and self.on_published is not None:
            self.on_published(len(published))

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


def _unstamped(rows: list[Row]) -> list[int]:
    """Rows sent for the first time (one sent again keeps its number: streams read it)."""
    return [row.id for row in rows if row.sent_batch is None]


def _update_chunks(conn: Connection, ids: list[int], **values: object) -> None:
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        conn.execute(update(OutboxEvent).where(OutboxEvent.id.in_(chunk)).values(**values))


def _is_kafka_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("aiokafka")


def _consume_outcome(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
