"""The deadline scheduler: each alert once per task and due time, re-armed by rescheduling."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import text

from server.db import utcnow
from server.events.models import OutboxEvent
from server.runtime import open_runtime
from server.tasks.models import TaskAlert, TaskUpdate
from server.workers.scheduler import DeadlineScheduler
from tests.conftest import make_settings
from tests.utils.events import count, rows, task_due_in


def scheduler(services, **options) -> DeadlineScheduler:
    return DeadlineScheduler(deadlines=services.deadlines, interval_seconds=1, **options)


async def alert_events(services) -> list[dict]:
    found = await rows(services, OutboxEvent, OutboxEvent.topic == services.topics.reminders)
    return [row.envelope for row in found]


async def test_reminder_fires_once_with_the_event_the_spec_describes(services, alice):
    task = await task_due_in(services, alice.user, 10, remind_before_minutes=15)

    first = await scheduler(services).tick()
    second = await scheduler(services).tick()

    assert (first.found, first.emitted, first.skipped) == (1, 1, 0)
    assert second.found == 0
    [event] = await alert_events(services)
    assert event["type"] == "reminder.due"
    assert event["subject"] == f"task/{task.id}"
    assert event["userid"] == str(alice.user.id)
    assert event["data"] == {
        "user_id": alice.user.id,
        "task_id": task.id,
        "title": "Pay rent",
        "due": task.due.isoformat(),
        "fire_at": (task.due - timedelta(minutes=15)).isoformat(),
        "reminder_id": task.reminders[0].id,
    }


async def test_stages_fire_in_turn_as_their_times_pass(services, alice):
    task = await task_due_in(services, alice.user, 10, remind_before_minutes=15)
    tick = scheduler(services).tick

    await tick()
    await tick(now=task.due + timedelta(seconds=1))
    await tick(now=task.due + timedelta(minutes=61))
    await tick(now=task.due + timedelta(days=3))

    types = [event["type"] for event in await alert_events(services)]
    assert types == ["reminder.due", "task.due", "task.overdue"]


async def test_after_downtime_only_the_latest_stage_fires(services, alice):
    await task_due_in(services, alice.user, -120)

    result = await scheduler(services).tick()

    assert (result.found, result.emitted) == (1, 1)
    assert [event["type"] for event in await alert_events(services)] == ["task.overdue"]


async def test_rescheduling_rearms_the_alerts(services, alice):
    task = await task_due_in(services, alice.user, 10, remind_before_minutes=15)
    await scheduler(services).tick()

    later = (utcnow() + timedelta(minutes=12)).isoformat()
    moved = await services.tasks.update_task(
        user=alice.user, task_id=task.id, data=TaskUpdate(due=later)
    )
    result = await scheduler(services).tick()

    assert result.emitted == 1
    events = await alert_events(services)
    assert [event["type"] for event in events] == ["reminder.due", "reminder.due"]
    assert events[1]["data"]["due"] == moved.due.isoformat() != task.due.isoformat()
    assert await count(services, TaskAlert, TaskAlert.task_id == task.id) == 2


async def test_completed_and_deleted_tasks_raise_no_alert(services, alice):
    done = await task_due_in(services, alice.user, -5)
    gone = await task_due_in(services, alice.user, -5)
    await services.tasks.complete_task(user=alice.user, task_id=done.id)
    await services.tasks.delete_task(user=alice.user, task_id=gone.id)

    result = await scheduler(services).tick()

    assert result.emitted == 0
    assert await alert_events(services) == []


async def test_an_alert_already_recorded_is_skipped_not_sent_again(services, alice):
    task = await task_due_in(services, alice.user, -5)
    async with services.db.transaction() as session:
        session.add(TaskAlert(task_id=task.id, stage="due", fire_at=task.due))

    result = await scheduler(services).tick()

    assert (result.found, result.emitted, result.skipped) == (1, 0, 1)
    assert await alert_events(services) == []


async def test_two_schedulers_at_once_emit_each_alert_once(services, alice):
    tasks = [await task_due_in(services, alice.user, -5, title=f"t{i}") for i in range(120)]

    results = await asyncio.gather(
        scheduler(services, batch_size=25).tick(), scheduler(services, batch_size=25).tick()
    )

    assert sum(r.emitted for r in results) == len(tasks)
    events = await alert_events(services)
    assert sorted(e["data"]["task_id"] for e in events) == sorted(t.id for t in tasks)
    assert await count(services, TaskAlert) == len(tasks)


async def test_a_tick_reads_the_due_tasks_through_the_index(sqlite_url):
    async with open_runtime(make_settings(database_url=sqlite_url), events=False) as runtime:
        services = runtime.services
        query = services.deadlines.due_query(utcnow(), 500)
        sql = str(query.compile(services.db.engine, compile_kwargs={"literal_binds": True}))
        async with services.db.session() as session:
            plan = await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            details = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX ix_tasks_next_alert" in details
    assert "TEMP B-TREE" not in details
