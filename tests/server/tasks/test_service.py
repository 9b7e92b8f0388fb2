"""The task service, which every tool, route and worker goes through (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.errors import Conflict, NotFound, ValidationFailed
from server.events.models import OutboxEvent
from server.tasks.models import TaskCreate, TaskUpdate
from tests.utils.app import services_on
from tests.utils.factories import make_task, stored_task_count, titles


async def outbox_types_of(services, subject: str) -> list[str]:
    async with services.db.session() as session:
        rows = await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
        return [r.envelope["type"] for r in rows if r.envelope["subject"] == subject]


async def outbox_types(services, task_id: int) -> list[str]:
    return await outbox_types_of(services, f"task/{task_id}")


async def test_naive_datetime_is_in_the_users_timezone(services, alice):
    task = await make_task(services, alice.user, due=datetime(2030, 1, 15, 9, 0))

    # Alice lives in Europe/Paris: 09:00 in January is 08:00 UTC.
    assert task.due == datetime(2030, 1, 15, 8, 0, tzinfo=UTC)


async def test_next_monday_is_the_coming_monday_in_the_users_timezone(services, bob):
    new_york = ZoneInfo("America/New_York")
    today = datetime.now(new_york).date()

    task = await make_task(services, bob.user, due="next monday")

    local = task.due.astimezone(new_york).date()
    assert local.weekday() == 0
    assert 0 < (local - today).days <= 7


async def test_recurring_task_keeps_its_local_time_across_a_clock_change(services, alice):
    # Paris moves to summer time on Sunday 2030-03-31: 09:00 is 08:00 UTC before, 07:00 after.
    task = await make_task(
        services, alice.user, title="Stretch", due="2030-03-30T09:00", recurrence="daily"
    )

    completion = await services.tasks.complete_task(user=alice.user, task_id=task.id)

    assert task.due == datetime(2030, 3, 30, 8, 0, tzinfo=UTC)
    assert completion.next_occurrence.due == datetime(2030, 3, 31, 7, 0, tzinfo=UTC)


async def test_rescheduling_keeps_the_recurrence_and_the_series(services, alice):
    task = await make_task(
        services, alice.user, due="2030-06-03T09:00", recurrence="FREQ=WEEKLY;BYDAY=MO"
    )

    moved = await services.tasks.update_task(
        user=alice.user, task_id=task.id, data=TaskUpdate(due="2030-06-10T10:00")
    )

    assert moved.due == datetime(2030, 6, 10, 8, 0, tzinfo=UTC)
    assert (moved.recurrence, moved.series_id) == ("FREQ=WEEKLY;BYDAY=MO", task.series_id)


async def test_rule_without_further_dates_gives_no_next_occurrence(services, alice):
    task = await make_task(
        services, alice.user, due="2030-06-03T09:00", recurrence="FREQ=DAILY;COUNT=1"
    )

    completion = await services.tasks.complete_task(user=alice.user, task_id=task.id)

    assert completion.task.completed and completion.next_occurrence is None
    assert await titles(services, alice.user) == ["Task"]


async def test_a_repeat_while_the_first_request_runs_is_a_conflict_then_a_replay(services, alice):
    def create():
        return services.tasks.create_task(
            user=alice.user, data=TaskCreate(title="Attempt"), idempotency_key="retry-7"
        )

    results = await asyncio.gather(*(create() for _ in range(3)), return_exceptions=True)
    again = await create()

    first, *repeats = results
    assert all(isinstance(r, Conflict) for r in repeats), results
    assert repeats[0].details["field"] == "idempotency_key"
    assert again == first
    assert await stored_task_count(services, alice.user) == 1


async def test_one_idempotency_key_makes_one_task_across_processes(settings, services, alice):
    async with services_on(settings.database_url) as other_process:

        def create(process):
            return process.tasks.create_task(
                user=alice.user, data=TaskCreate(title="Attempt"), idempotency_key="retry-8"
            )

        created = await asyncio.gather(create(services), create(other_process))

    assert created[0] == created[1]
    assert await stored_task_count(services, alice.user) == 1


async def test_every_change_records_its_event_in_the_outbox(services, alice):
    task = await make_task(services, alice.user, title="Pay rent")
    user, task_id = alice.user, task.id

    await services.tasks.update_task(user=user, task_id=task_id, data=TaskUpdate(priority="high"))
    await services.tasks.complete_task(user=user, task_id=task_id)
    await services.tasks.reopen_task(user=user, task_id=task_id)
    await services.tasks.delete_task(user=user, task_id=task_id)
    await services.tasks.restore_task(user=user, task_id=task_id)

    assert await outbox_types(services, task_id) == [
        "task.created",
        "task.updated",
        "task.completed",
        "task.reopened",
        "task.deleted",
        "task.restored",
    ]
    async with services.db.session() as session:
        event = await session.scalar(
            select(OutboxEvent)
            .where(OutboxEvent.envelope["subject"].as_string() == f"task/{task_id}")
            .order_by(OutboxEvent.id)
            .limit(1)
        )
    envelope = event.envelope
    assert envelope["specversion"] == "1.0" and envelope["source"] == "todo-agent"
    assert envelope["userid"] == str(user.id) and event.key == str(user.id)
    assert envelope["data"]["task"]["title"] == "Pay rent"


async def test_a_rejected_change_leaves_the_task_and_the_outbox_as_they_were(services, alice):
    task = await make_task(services, alice.user, title="Pay rent", due="2030-06-03T09:00")

    with pytest.raises(ValidationFailed) as failed:
        await services.tasks.update_task(
            user=alice.user,
            task_id=task.id,
            data=TaskUpdate(title="Pay the rent", due="when pigs fly"),
        )

    assert failed.value.field == "due"
    assert await services.tasks.get_task(user=alice.user, task_id=task.id) == task
    assert await outbox_types(services, task.id) == ["task.created"]


async def test_other_users_task_is_not_found_through_the_service(services, alice, bob):
    task = await make_task(services, alice.user, title="Alice's secret")
    tasks = services.tasks

    for attempt in (
        tasks.get_task(user=bob.user, task_id=task.id),
        tasks.update_task(user=bob.user, task_id=task.id, data=TaskUpdate(title="Bob's")),
        tasks.complete_task(user=bob.user, task_id=task.id),
        tasks.reopen_task(user=bob.user, task_id=task.id),
        tasks.delete_task(user=bob.user, task_id=task.id),
        tasks.restore_task(user=bob.user, task_id=task.id),
    ):
        with pytest.raises(NotFound, match=f"task {task.id} not found"):
            await attempt
    assert await titles(services, bob.user) == []
    assert await tasks.get_task(user=alice.user, task_id=task.id) == task


async def test_task_ids_beyond_the_id_column_are_simply_not_found(services, alice):
    for task_id in (2**31, 2**63, 10**30, 0, -5):
        with pytest.raises(NotFound):
            await services.tasks.get_task(user=alice.user, task_id=task_id)


async def test_overdue_means_overdue_after_minutes_past_the_due_time(services, alice):
    now = datetime.now(UTC)
    late = services.settings.overdue_after_minutes + 5
    await make_task(services, alice.user, title="Late", due=now - timedelta(minutes=late))
    await make_task(services, alice.user, title="Just past", due=now - timedelta(minutes=1))
    await make_task(services, alice.user, title="Soon", due=now + timedelta(hours=1))
    await make_task(services, alice.user, title="Someday")

    # Overdue is what the `task.overdue` alert means; a minute late is due, not yet overdue.
    assert await titles(services, alice.user, overdue=True) == ["Late"]
    assert "Just past" in await titles(services, alice.user, overdue=False)


async def test_count_limits_the_whole_series_not_each_occurrence(services, alice):
    task = await make_task(
        services, alice.user, due="2030-06-03T09:00", recurrence="FREQ=DAILY;COUNT=3"
    )
    dues = []
    while task is not None:
        done = await services.tasks.complete_task(user=alice.user, task_id=task.id)
        task = done.next_occurrence
        dues += [task.due.date().isoformat()] if task else []

    assert dues == ["2030-06-04", "2030-06-05"]  # three occurrences in all


@pytest.mark.parametrize(
    ("rule", "due"),
    [
        # INTERVAL with a filter at the same frequency: depends on the start, scans for years.
        ("FREQ=DAILY;INTERVAL=7;BYDAY=TH", "2030-01-01T10:00"),
        ("FREQ=HOURLY;INTERVAL=48;BYHOUR=0", "2030-01-01T10:00"),
        # Never matches from this due time: every twelfth month from February has no 31st.
        ("FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=31", "2030-02-10T10:00"),
        ("FREQ=DAILY;BYSETPOS=5", "2030-01-01T10:00"),
    ],
)
async def test_rules_that_cannot_continue_are_refused_when_set(services, alice, rule, due):
    with pytest.raises(ValidationFailed) as refused:
        await make_task(services, alice.user, due=due, recurrence=rule)

    assert refused.value.field == "recurrence"
    assert await stored_task_count(services, alice.user) == 0


async def test_every_other_week_on_two_days_continues_correctly(services, alice):
    task = await make_task(
        services,
        alice.user,
        due="2030-01-03T09:00",
        recurrence="FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
    )
    days = []
    for _ in range(3):
        task = (
            await services.tasks.complete_task(user=alice.user, task_id=task.id)
        ).next_occurrence
        days.append(task.due.astimezone(ZoneInfo("Europe/Paris")).date().isoformat())

    assert days == ["2030-01-14", "2030-01-17", "2030-01-28"]


async def test_titles_must_be_one_line(services, alice):
    with pytest.raises(ValidationFailed) as refused:
        await make_task(services, alice.user, title="Pay rent\nBcc: everyone@example.com")

    assert refused.value.field == "title"
