"""Retention: deletes published outbox rows, processed-event ids and activity once they are old.

These tables would otherwise grow forever. A published outbox row is history once the bus
has acknowledged it; a processed-event id matters only while its event can still be
delivered again, which on Kafka is bounded by the topics' retention (EVENT_RETENTION_HOURS
should be at least that); activity is readable for ACTIVITY_RETENTION_DAYS. Pending outbox
rows and dead letters are never deleted.

A sweep runs at start and then every few minutes. It deletes in small batches, one short
transaction each, found through an index (`ix_outbox_pending`,
`ix_processed_events_processed_at`, `ix_activity_at`); on PostgreSQL concurrent workers
claim disjoint batches with FOR UPDATE SKIP LOCKED, on SQLite writers take turns anyway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Delete, Select, delete, select, tuple_

from server.activity.models import Activity
from server.db import Database, utcnow
from server.events.models import OutboxEvent, ProcessedEvent
from server.workers.periodic import every

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class SweepResult:
    outbox: int = 0
    processed_events: int = 0
    activity: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class EventRetention:
    """Runs `sweep` at start and every `interval_seconds`; see the module docstring."""

    db: Database
    retention: timedelta
    activity_retention: timedelta = timedelta(days=90)
    interval_seconds: float = 300.0
    batch_size: int = 1000
    on_sweep: Callable[[SweepResult], None] | None = None

    async def run(self) -> None:
        await every(self.interval_seconds, self.sweep, "event retention sweep")

    async def sweep(self, now: datetime | None = None) -> SweepResult:
        """Delete what is older than the retention periods at `now` (default: the current
        time)."""
        now = now or utcnow()
        cutoff = now - self.retention
        started = time.perf_counter()
        result = SweepResult()
        result.outbox = await self._delete_batches(self.published_outbox_batch(cutoff))
        result.processed_events = await self._delete_batches(self.processed_ids_batch(cutoff))
        result.activity = await self._delete_batches(
            self.activity_batch(now - self.activity_retention)
        )
        result.seconds = time.perf_counter() - started
        deleted = result.outbox or result.processed_events or result.activity
        logger.log(
            logging.INFO if deleted else logging.DEBUG,
            "retention: deleted %d published outbox rows and %d processed-event ids older than "
            "%s, %d activity entries older than %s in %.1f ms",
            result.outbox,
            result.processed_events,
            cutoff.isoformat(timespec="seconds"),
            result.activity,
            (now - self.activity_retention).isoformat(timespec="seconds"),
            result.seconds * 1000,
        )
        if self.on_sweep is not None:
            self.on_sweep(result)
        return result

    def published_outbox_batch(self, cutoff: datetime) -> Delete:
        """Up to a batch of rows published before `cutoff`, read from ix_outbox_pending.

        A pending row (published_at NULL) never compares as older than anything.
        """
        ids = self._claim(
            select(OutboxEvent.id)
            .where(OutboxEvent.published_at < cutoff)
            .order_by(OutboxEvent.published_at, OutboxEvent.id)
        )
        return delete(OutboxEvent).where(OutboxEvent.id.in_(ids))

    def processed_ids_batch(self, cutoff: datetime) -> Delete:
        """Up to a batch of ids processed before `cutoff`, read from their processed_at index."""
        keys = self._claim(
            select(ProcessedEvent.consumer, ProcessedEvent.event_id)
            .where(ProcessedEvent.processed_at < cutoff)
            .order_by(ProcessedEvent.processed_at)
        )
        key = tuple_(ProcessedEvent.consumer, ProcessedEvent.event_id)
        return delete(ProcessedEvent).where(key.in_(keys))

    def activity_batch(self, cutoff: datetime) -> Delete:
        """Up to a batch of activity entries from before `cutoff`, read from ix_activity_at."""
        ids = self._claim(select(Activity.id).where(Activity.at < cutoff).order_by(Activity.at))
        return delete(Activity).where(Activity.id.in_(ids))

    def _claim(self, stmt: Select) -> Select:
        # Another worker's batch is skipped, not waited for.
        return self.db.for_update(stmt.limit(self.batch_size), skip_locked=True)

    async def _delete_batches(self, stmt: Delete) -> int:
        """Run `stmt` in a transaction of its own until it deletes less than a batch."""
        stmt = stmt.execution_options(synchronize_session=False)
        deleted = 0
        while True:
            async with self.db.transaction() as session:
                found = (await session.execute(stmt)).rowcount
            deleted += found
            if found < self.batch_size:
                return deleted
