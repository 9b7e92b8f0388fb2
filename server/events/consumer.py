"""Consumers of bus events: idempotent handling, retries with backoff, then a dead letter.

A `Consumer` names its group, its topic, the event types it cares about and an idempotent
`handle`. `apply_once` gives transactional handlers their idempotency: the event id is
recorded in `processed_events` in the same transaction as the effect. `Delivery` is what
the bus calls: it skips other types, retries a failing handler with exponential backoff
and finally parks the event in `dead_letters` with its error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.backoff import RETRY, Backoff
from server.db import Database
from server.events.bus import Envelope
from server.events.dead_letters import park
from server.events.models import ProcessedEvent

logger = logging.getLogger(__name__)

Apply = Callable[[AsyncSession, Envelope], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Consumer:
    """An idempotent handler of one topic's events of the given types."""

    name: str
    topic: str
    types: frozenset[str]
    handle: Callable[[Envelope], Awaitable[None]]


async def is_processed(db: Database, consumer: str, event_id: str) -> bool:
    async with db.session() as session:
        found = await session.scalar(
            select(ProcessedEvent.event_id).where(
                ProcessedEvent.consumer == consumer, ProcessedEvent.event_id == event_id
            )
        )
    return found is not None


async def apply_once(db: Database, consumer: str, envelope: Envelope, apply: Apply) -> bool:
    """Run `apply` and record the event as processed, in one transaction; False if done before."""
    event_id = envelope["id"]
    if await is_processed(db, consumer, event_id):
        return False
    try:
        async with db.transaction() as session:
            session.add(ProcessedEvent(consumer=consumer, event_id=event_id))
            await session.flush()
            await apply(session, envelope)
    except IntegrityError:
        if await is_processed(db, consumer, event_id):  # another consumer got there first
            return False
        raise
    return True


@dataclass(slots=True)
class Delivery:
    """Calls a consumer for each event of its types; retries, then parks what keeps failing."""

    db: Database
    consumer: Consumer
    attempts: int = 5
    backoff: Backoff = RETRY
    on_outcome: Callable[[str, str], None] | None = None

    async def __call__(self, envelope: Envelope) -> None:
        await self.deliver(envelope)

    async def deliver(self, envelope: Envelope) -> bool:
        """True when handled (or not of interest), False when parked as a dead letter."""
        if envelope.get("type") not in self.consumer.types:
            return True
        error: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                await self.consumer.handle(envelope)
            except Exception as exc:  # any failure is retried, then parked with its error
                error = exc
                logger.warning(
                    "consumer %s failed on event %s (attempt %d/%d): %r",
                    self.consumer.name,
                    envelope.get("id"),
                    attempt,
                    self.attempts,
                    exc,
                )
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff.delay(attempt))
                continue
            self._count("ok")
            return True
        assert error is not None
        logger.error(
            "consumer %s parked event %s as a dead letter after %d attempts: %r",
            self.consumer.name,
            envelope.get("id"),
            self.attempts,
            error,
            exc_info=error,
        )
        await park(
            self.db,
            consumer=self.consumer.name,
            topic=self.consumer.topic,
            envelope=envelope,
            error=f"{type(error).__name__}: {error}",
            attempts=self.attempts,
        )
        self._count("dead_letter")
        return False

    def _count(self, outcome: str) -> None:
        if self.on_outcome is not None:
            self.on_outcome(self.consumer.name, outcome)
