"""Helpers for event and worker tests: polling with a deadline, counting rows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select

from server.app import create_app
from server.config import Settings
from server.db import utcnow
from server.events.bus import Envelope
from server.events.models import OutboxEvent
from server.runtime import Runtime, open_runtime
from server.services import Services
from server.tasks.models import TaskCreate, TaskPublic
from server.users.models import User
from server.workers.scheduler import DeadlineScheduler
from testkit.servers import serve_app

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], *, within: float = 15.0, interval: float = 0.05
) -> T:
    """Poll `probe` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {value!r})")
        await asyncio.sleep(interval)


async def count(services: Services, model: Any, *where: Any) -> int:
    async with services.db.session() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def rows(services: Services, model: Any, *where: Any) -> list[Any]:
    async with services.db.session() as session:
        return list(await session.scalars(select(model).where(*where).order_by(model.id)))


async def outbox_drained(services: Services) -> bool:
    return await count(services, OutboxEvent, OutboxEvent.published_at.is_(None)) == 0


async def task_due_in(
    services: Services, user: User, minutes: float, *, title: str = "Pay rent", **fields: Any
) -> TaskPublic:
    due = (utcnow() + timedelta(minutes=minutes)).replace(microsecond=0).isoformat()
    return await services.tasks.create_task(
        user=user, data=TaskCreate(title=title, due=due, **fields)
    )


async def an_alert(services: Services, user: User) -> Envelope:
    """The alert event of a task that fell due five minutes ago, as the scheduler wrote it."""
    await task_due_in(services, user, -5)
    await DeadlineScheduler(deadlines=services.deadlines, interval_seconds=1).tick()
    [row] = await rows(services, OutboxEvent, OutboxEvent.topic == services.topics.reminders)
    return row.envelope


@asynccontextmanager
async def started(settings: Settings, **options: Any) -> AsyncIterator[Runtime]:
    """A runtime on `settings` with the workers running, as `todo-agent worker` runs them."""
    async with open_runtime(settings, workers=True, **options) as runtime:
        yield runtime


@asynccontextmanager
async def running_app(
    settings: Settings, *, workers: bool = True
) -> AsyncIterator[tuple[Runtime, str]]:
    """`todo-agent serve` on `settings`, over real HTTP; yields its runtime and address."""
    async with open_runtime(settings, workers=workers) as runtime:
        async with serve_app(create_app(runtime)) as base_url:
            yield runtime, base_url
