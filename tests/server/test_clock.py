"""The clock a context can set (the eval runs each scenario at its own time): it reaches
date phrases, the tasks started in the block and SQLite's database threads, and nothing
outside the block."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from server.db import clock_set_to, utcnow
from server.tasks.dates import resolve_due
from server.tasks.models import TaskCreate
from tests.conftest import make_account
from tests.utils.app import services_on

SET_TO = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)


def near(value: datetime, expected: datetime) -> bool:
    return abs(value - expected) < timedelta(minutes=5)


async def test_the_set_clock_starts_at_its_time_and_runs_on():
    with clock_set_to(SET_TO):
        first = utcnow()
        await asyncio.sleep(0.01)
        second = utcnow()
    assert near(first, SET_TO) and second > first
    assert near(utcnow(), datetime.now(UTC))


async def test_date_phrases_resolve_from_the_set_clock():
    with clock_set_to(SET_TO):
        due = resolve_due("tomorrow 5pm", "Europe/Paris")
    assert due == datetime(2026, 3, 6, 16, 0, tzinfo=UTC)


async def _now_in_a_task() -> datetime:
    await asyncio.sleep(0)
    return utcnow()


async def test_the_set_clock_reaches_tasks_and_database_threads_of_its_context(sqlite_url):
    async with services_on(sqlite_url) as services:
        alice = await make_account(services, "alice", "Europe/Paris")
        with clock_set_to(SET_TO):
            in_thread = await services.db.run(lambda _conn: utcnow())
            in_task = await asyncio.create_task(_now_in_a_task())
            task = await services.tasks.create_task(
                user=alice.user, data=TaskCreate(title="Call mom", due="tomorrow 5pm")
            )
        outside = await services.db.run(lambda _conn: utcnow())
    assert near(in_thread, SET_TO) and near(in_task, SET_TO)
    assert near(task.created_at, SET_TO)
    assert task.due == datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
    assert near(outside, datetime.now(UTC))
