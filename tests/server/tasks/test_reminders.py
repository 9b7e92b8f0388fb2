"""Reminders: up to five per task, relative or absolute, each firing once; a new due time
re-arms the relative ones (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.db import utcnow
from server.errors import ValidationFailed
from server.events.models import OutboxEvent
from server.tasks.models import TaskCreate, TaskUpdate
from server.validation import parse_model
from server.workers.scheduler import DeadlineScheduler
from tests.utils.events import rows, task_due_in
from tests.utils.factories import make_task, stored_task_count


def tick(services, now):
    return DeadlineScheduler(deadlines=services.deadlines, interval_seconds=1).tick(now=now)


async def alerts(services) -> list[tuple[str, int | None, str]]:
    found = await rows(services, OutboxEvent, OutboxEvent.topic == services.topics.reminders)
    return [
        (e.envelope["type"], e.envelope["data"].get("reminder_id"), e.envelope["data"]["fire_at"])
        for e in found
    ]


def iso(moment) -> str:
    return moment.replace(microsecond=0).isoformat()


async def test_a_new_task_gets_the_default_reminder_and_the_shorthand_replaces_it(services, alice):
    plain = await make_task(services, alice.user, title="Plain")
    shorthand = await make_task(services, alice.user, title="Short", remind_before_minutes=5)
    none = await make_task(services, alice.user, title="None", remind_before_minutes=0)

    assert [(r.before_minutes, r.at) for r in plain.reminders] == [(30, None)]
    assert plain.remind_before_minutes == 30
    assert [r.before_minutes for r in shorthand.reminders] == [5]
    assert none.reminders == [] and none.remind_before_minutes is None


async def test_each_reminder_fires_once_with_its_id(services, alice):
    at = utcnow() + timedelta(minutes=90)
    task = await task_due_in(
        services,
        alice.user,
        120,
        reminders=[{"before_minutes": 60}, {"before_minutes": 10}, {"at": iso(at)}],
    )
    by_lead = {r.before_minutes: r for r in task.reminders}
    absolute = next(r for r in task.reminders if r.at)

    for moment in (task.due - timedelta(minutes=59), at + timedelta(seconds=1)):
        await tick(services, moment)
        await tick(services, moment)  # nothing fires twice
    await tick(services, task.due - timedelta(minutes=9))

    assert await alerts(services) == [
        ("reminder.due", by_lead[60].id, (task.due - timedelta(minutes=60)).isoformat()),
        ("reminder.due", absolute.id, absolute.at.isoformat()),
        ("reminder.due", by_lead[10].id, (task.due - timedelta(minutes=10)).isoformat()),
    ]
    read = await services.tasks.get_task(user=alice.user, task_id=task.id)
    assert all(r.fired for r in read.reminders)


async def test_an_absolute_reminder_needs_no_due_time(services, alice):
    at = utcnow() + timedelta(minutes=5)
    task = await make_task(services, alice.user, title="Water plants", reminders=[{"at": iso(at)}])

    await tick(services, at + timedelta(seconds=1))

    [(kind, reminder_id, fire_at)] = await alerts(services)
    assert (kind, reminder_id) == ("reminder.due", task.reminders[0].id)
    assert task.due is None and task.reminders[0].fires_at.isoformat() == fire_at


async def test_a_new_due_time_rearms_the_relative_reminders_only(services, alice):
    at = utcnow() + timedelta(minutes=5)
    task = await task_due_in(
        services, alice.user, 20, reminders=[{"before_minutes": 15}, {"at": iso(at)}]
    )
    await tick(services, at + timedelta(seconds=1))  # both have fired (the earlier passed)

    later = utcnow() + timedelta(minutes=40)
    moved = await services.tasks.update_task(
        user=alice.user, task_id=task.id, data=TaskUpdate(due=iso(later))
    )
    relative = next(r for r in moved.reminders if r.before_minutes)
    absolute = next(r for r in moved.reminders if r.at)

    assert (relative.fired, absolute.fired) == (False, True)
    await tick(services, relative.fires_at + timedelta(seconds=1))
    kinds = [(kind, reminder_id) for kind, reminder_id, _ in await alerts(services)]
    assert kinds == [("reminder.due", absolute.id), ("reminder.due", relative.id)]


async def test_after_downtime_only_the_latest_passed_reminder_fires(services, alice):
    task = await task_due_in(
        services, alice.user, 60, reminders=[{"before_minutes": 50}, {"before_minutes": 20}]
    )

    await tick(services, task.due - timedelta(minutes=10))

    latest = next(r for r in task.reminders if r.before_minutes == 20)
    assert [(k, r) for k, r, _ in await alerts(services)] == [("reminder.due", latest.id)]


async def test_keeping_a_reminder_keeps_its_id_and_whether_it_fired(services, alice):
    task = await task_due_in(services, alice.user, 20, reminders=[{"before_minutes": 30}])
    await tick(services, utcnow())

    changed = await services.tasks.update_task(
        user=alice.user,
        task_id=task.id,
        data=TaskUpdate(reminders=[{"before_minutes": 30}, {"before_minutes": 5}]),
    )

    kept = next(r for r in changed.reminders if r.before_minutes == 30)
    assert (kept.id, kept.fired) == (task.reminders[0].id, True)
    cleared = await services.tasks.update_task(
        user=alice.user, task_id=task.id, data=TaskUpdate(reminders=[])
    )
    assert cleared.reminders == []


@pytest.mark.parametrize(
    ("reminders", "field", "rule"),
    [
        ([{"before_minutes": n} for n in range(1, 7)], "reminders", "at most 5"),
        ([{"at": "2020-01-01T09:00"}], "reminders[0].at", "must be in the future"),
        ([{"before_minutes": 5}, {"at": "yesterday"}], "reminders[1].at", "in the future"),
        ([{"before_minutes": 5, "at": "tomorrow"}], "reminders[0]", "exactly one"),
        ([{}], "reminders[0]", "exactly one"),
        ([{"at": "when pigs fly"}], "reminders[0].at", "could not understand"),
    ],
)
async def test_bad_reminders_are_refused_and_change_nothing(
    services, alice, reminders, field, rule
):
    task = await task_due_in(services, alice.user, 60)

    async def create():
        data = parse_model(TaskCreate, {"title": "x", "reminders": reminders})
        await services.tasks.create_task(user=alice.user, data=data)

    async def update():
        data = parse_model(TaskUpdate, {"reminders": reminders})
        await services.tasks.update_task(user=alice.user, task_id=task.id, data=data)

    for attempt in (create, update):
        with pytest.raises(ValidationFailed) as failed:
            await attempt()
        assert failed.value.field == field and rule in failed.value.rule

    assert await stored_task_count(services, alice.user) == 1
    read = await services.tasks.get_task(user=alice.user, task_id=task.id)
    assert read.reminders == task.reminders
