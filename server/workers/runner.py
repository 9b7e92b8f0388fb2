"""Starts and stops the background workers: consumers, outbox relay, deadline scheduler,
event retention, OAuth cleanup.

They start in that order and stop in reverse: the cleanup and retention stop deleting, the
scheduler stops making alerts, the relay stops sending, then the consumers finish. Each runs
as one owned asyncio task that is cancelled and awaited on exit; whatever a cancelled worker
had not committed is done again after restart (pending outbox rows are resent, uncommitted
Kafka offsets are re-read).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from server.events.bus import EventBus
from server.events.consumer import Delivery
from server.notifications.email import EmailNotifier, EmailSender
from server.services import Services
from server.workers.consumers import build_consumers
from server.workers.metrics import worker_metrics
from server.workers.periodic import every
from server.workers.relay import OutboxRelay
from server.workers.retention import EventRetention, SweepResult
from server.workers.scheduler import DeadlineScheduler, TickResult

logger = logging.getLogger(__name__)

# Expired OAuth codes and tokens are deleted this often (server.oauth.grants.Grants.prune).
OAUTH_CLEANUP_SECONDS = 3600.0
# How often emails a stopped worker left half sent are looked for.
EMAIL_RESUME_SECONDS = 30.0


@contextlib.asynccontextmanager
async def background(name: str, work: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task]:
    """Run `work` as a task while the context is open; cancel and await it on exit."""
    task = asyncio.create_task(work, name=name)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        logger.info("%s stopped", name)


@contextlib.asynccontextmanager
async def run_workers(
    services: Services, bus: EventBus, *, email: EmailSender | None = None
) -> AsyncIterator[None]:
    """Run the workers on `bus` until the context exits; they stop in reverse start order."""
    metrics = worker_metrics(services.metrics)

    def counted(result: TickResult) -> None:
        metrics.alerts.inc(result.emitted)
        metrics.tick_seconds.observe(result.seconds)

    def outcome(consumer: str, result: str) -> None:
        metrics.consumed.labels(consumer, result).inc()

    def pruned(result: SweepResult) -> None:
        metrics.pruned.labels("outbox").inc(result.outbox)
        metrics.pruned.labels("processed_events").inc(result.processed_events)
        metrics.pruned.labels("activity").inc(result.activity)

    settings = services.settings
    async with AsyncExitStack() as stack:
        for consumer in build_consumers(services, email=email):
            delivery = Delivery(db=services.db, consumer=consumer, on_outcome=outcome)
            await stack.enter_async_context(
                bus.subscribe(topic=consumer.topic, group=consumer.name, handler=delivery)
            )
        relay = OutboxRelay(db=services.db, bus=bus, on_published=metrics.published.inc)
        await stack.enter_async_context(background("outbox relay", relay.run()))
        scheduler = DeadlineScheduler(
            deadlines=services.deadlines,
            interval_seconds=settings.scheduler_interval_seconds,
            on_tick=counted,
        )
        await stack.enter_async_context(background("deadline scheduler", scheduler.run()))
        retention = EventRetention(
            db=services.db,
            retention=timedelta(hours=settings.event_retention_hours),
            activity_retention=timedelta(days=settings.activity_retention_days),
            on_sweep=pruned,
        )
        await stack.enter_async_context(background("event retention", retention.run()))
        oauth_cleanup = every(OAUTH_CLEANUP_SECONDS, services.oauth.grants.prune, "OAuth cleanup")
        await stack.enter_async_context(background("OAuth cleanup", oauth_cleanup))
        sender = email or EmailSender.from_settings(settings)
        if sender is not None:
            notifier = EmailNotifier(db=services.db, sender=sender)
            resume = every(EMAIL_RESUME_SECONDS, notifier.resume_abandoned, "email recovery")
            await stack.enter_async_context(background("email recovery", resume))
        logger.info(
            "workers running: consumers, outbox relay, deadline scheduler, event retention, "
            "OAuth cleanup"
        )
        yield
