"""The recurrence consumer: one next occurrence per completed recurring task, however often."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

from server.db import utcnow
from server.events.outbox import add_event
from server.tasks.models import Task
from server.workers.runner import run_workers
from tests.utils.events import eventually, outbox_drained, rows, task_due_in


def local(moment, account):
    """The wall-clock time in the user's zone (recurrence keeps it across DST changes)."""
    return moment.astimezone(ZoneInfo(account.user.timezone)).replace(tzinfo=None)


async def following(services, task_id: int) -> list[Task]:
    return await rows(services, Task, Task.occurrence_of == task_id)


async def test_completing_twice_concurrently_yields_one_next_occurrence(runtime, services, alice):
    task = await task_due_in(services, alice.user, 60, recurrence="daily")

    async with run_workers(services, runtime.bus):
        results = await asyncio.gather(
            services.tasks.complete_task(user=alice.user, task_id=task.id),
            services.tasks.complete_task(user=alice.user, task_id=task.id),
        )
        await eventually(lambda: outbox_drained(services))

    [next_one] = await following(services, task.id)
    assert {r.next_occurrence.id for r in results} == {next_one.id}
    assert local(next_one.due, alice) == local(task.due, alice) + timedelta(days=1)
    assert next_one.series_id == task.series_id


async def test_a_completion_event_whose_next_occurrence_is_missing_gets_exactly_one(
    runtime, services, alice
):
    """Completions stored without their next occurrence (say, by an older release) get it
    from the consumer, once, even when the event arrives twice."""
    task = await task_due_in(services, alice.user, 60, recurrence="weekly")
    async with services.db.transaction() as session:
        row = await session.get(Task, task.id)
        row.completed, row.completed_at, row.next_alert_at = True, utcnow(), None
        for _ in range(2):  # the same fact twice: an at-least-once redelivery
            add_event(
                session,
                topic=services.topics.task_events,
                type="task.completed",
                user_id=alice.user.id,
                subject=f"task/{task.id}",
                data={
                    "user_id": alice.user.id,
                    "task": {**task.model_dump(mode="json"), "completed": True},
                },
            )

    async with run_workers(services, runtime.bus):
        await eventually(lambda: following(services, task.id))
        await eventually(lambda: outbox_drained(services))

    [next_one] = await following(services, task.id)
    assert local(next_one.due, alice) == local(task.due, alice) + timedelta(days=7)
    assert not next_one.completed


async def test_completing_a_task_that_does_not_recur_creates_nothing(runtime, services, alice):
    task = await task_due_in(services, alice.user, 60)

    async with run_workers(services, runtime.bus):
        await services.tasks.complete_task(user=alice.user, task_id=task.id)
        await eventually(lambda: outbox_drained(services))

    assert await following(services, task.id) == []
