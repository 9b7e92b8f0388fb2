"""Alerts become stored notifications, pushed live and emailed, each exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from server.backoff import Backoff
from server.db import utcnow
from server.events.live import to_live_event
from server.events.replay import START
from server.notifications.email import EmailFailed, EmailNotifier, EmailSender
from server.notifications.models import Notification
from server.tasks.models import TaskUpdate
from server.workers.runner import run_workers
from server.workers.scheduler import DeadlineScheduler
from tests.conftest import make_settings
from tests.utils.events import count, eventually, outbox_drained, rows, started, task_due_in
from tests.utils.factories import make_notification


def smtp_settings(database_url, smtp, **extra):
    return make_settings(
        database_url=database_url, scheduler_interval_seconds=0.2, **smtp.settings(), **extra
    )


async def notifications_of(services, user) -> list[Notification]:
    return await rows(services, Notification, Notification.user_id == user.id)


async def settled(services, user, expected: int) -> list[Notification]:
    """Wait until `expected` notifications exist, their emails are done and nothing is pending."""

    async def probe():
        found = await notifications_of(services, user)
        busy = any(n.email_status in ("pending", "sending") for n in found)
        return len(found) >= expected and not busy and await outbox_drained(services) and found

    return await eventually(probe)


async def test_a_due_task_gives_one_notification_and_one_email(database_url, smtp):
    async with started(smtp_settings(database_url, smtp)) as runtime:
        services = runtime.services
        user = await services.users.create_user(name="ann", email="ann@example.com")
        task = await task_due_in(services, user, 20, remind_before_minutes=20)

        [notification] = await settled(services, user, 1)
        # A few more scheduler ticks change nothing.
        ticks = services.metrics.registry.get_sample_value("scheduler_tick_seconds_count")
        await eventually(
            lambda: _ticks_after(services, ticks + 3),
        )

        assert await count(services, Notification) == 1
        assert notification.kind == "reminder"
        assert notification.task_id == task.id
        assert notification.title == "Reminder: Pay rent"
        assert (notification.email_status, notification.email_attempts) == ("sent", 1)
        [email] = smtp.inbox.to("ann@example.com")
        assert len(smtp.inbox.messages) == 1
        assert email["Subject"] == "Reminder: Pay rent"
        assert email["From"] == "todo@test"


async def _ticks_after(services, target: float) -> bool:
    return services.metrics.registry.get_sample_value("scheduler_tick_seconds_count") >= target


async def test_rescheduling_a_task_notifies_again_for_the_new_due_time(database_url, smtp):
    async with started(smtp_settings(database_url, smtp)) as runtime:
        services = runtime.services
        user = await services.users.create_user(name="ann", email="ann@example.com")
        task = await task_due_in(services, user, 20, remind_before_minutes=20)
        await settled(services, user, 1)

        later = (utcnow() + timedelta(minutes=15)).isoformat()
        await services.tasks.update_task(user=user, task_id=task.id, data=TaskUpdate(due=later))
        found = await settled(services, user, 2)

        assert [n.kind for n in found] == ["reminder", "reminder"]
        assert found[0].body != found[1].body
        assert len(smtp.inbox.to("ann@example.com")) == 2


async def test_users_without_an_email_get_notifications_but_no_email(database_url, smtp):
    async with started(smtp_settings(database_url, smtp)) as runtime:
        services = runtime.services
        user = await services.users.create_user(name="bo")
        await task_due_in(services, user, -5)

        [notification] = await settled(services, user, 1)

        assert (notification.kind, notification.email_status) == ("due", "none")
        assert smtp.inbox.messages == []


async def test_a_failed_email_is_recorded_and_other_notifications_go_on(database_url, smtp):
    sender = EmailSender(
        host="127.0.0.1",
        port=smtp.port,
        sender="todo@test",
        attempts=3,
        backoff=Backoff(first=0.01),
    )
    smtp.inbox.fail_next = 3  # every attempt of the first email is refused (451)
    async with started(smtp_settings(database_url, smtp), email=sender) as runtime:
        services = runtime.services
        ann = await services.users.create_user(name="ann", email="ann@example.com")
        bo = await services.users.create_user(name="bo", email="bo@example.com")
        await task_due_in(services, ann, -5)
        [failed] = await settled(services, ann, 1)
        await task_due_in(services, bo, -5)
        [sent] = await settled(services, bo, 1)

    assert (failed.email_status, failed.email_attempts) == ("failed", 3)
    assert "451" in failed.email_error
    assert (sent.email_status, sent.email_attempts) == ("sent", 1)
    assert [m["To"] for m in smtp.inbox.messages] == ["bo@example.com"]


async def test_a_transient_email_failure_is_retried(database_url, smtp):
    sender = EmailSender(
        host="127.0.0.1",
        port=smtp.port,
        sender="todo@test",
        attempts=3,
        backoff=Backoff(first=0.01),
    )
    smtp.inbox.fail_next = 1
    async with started(smtp_settings(database_url, smtp), email=sender) as runtime:
        services = runtime.services
        ann = await services.users.create_user(name="ann", email="ann@example.com")
        await task_due_in(services, ann, -5)
        [notification] = await settled(services, ann, 1)

    assert (notification.email_status, notification.email_attempts) == ("sent", 2)
    assert len(smtp.inbox.messages) == 1


async def test_an_alert_for_a_task_completed_meanwhile_notifies_nobody(runtime, services):
    user = await services.users.create_user(name="cy")
    task = await task_due_in(services, user, -5)
    # The alert is emitted, then the task is completed before any consumer sees the alert.
    assert (await scheduler_for(services).tick()).emitted == 1
    await services.tasks.complete_task(user=user, task_id=task.id)

    async with run_workers(services, runtime.bus):
        await eventually(lambda: outbox_drained(services))

    assert await notifications_of(services, user) == []


def scheduler_for(services) -> DeadlineScheduler:
    return DeadlineScheduler(deadlines=services.deadlines, interval_seconds=3600)


async def test_an_email_being_retried_holds_up_no_other_notification(sqlite_url, smtp):
    sender = EmailSender(
        host="127.0.0.1", port=smtp.port, sender="todo@test", attempts=5, backoff=Backoff(first=30)
    )
    smtp.inbox.fail_next = 1  # ann's first attempt fails: her retry waits 30 s
    async with started(smtp_settings(sqlite_url, smtp), email=sender) as runtime:
        services = runtime.services
        ann = await services.users.create_user(name="ann", email="ann@example.com")
        bo = await services.users.create_user(name="bo", email="bo@example.com")
        await task_due_in(services, ann, -5)
        await eventually(lambda: _email_status(services, ann, "sending"))

        with runtime.live.subscribe(bo.id) as woken:
            await task_due_in(services, bo, -5)
            await asyncio.wait_for(woken.wait(), 10)
            pushed = await eventually(lambda: _live_events(services, bo, 3))

        # His Inbox (made with him), his task and its notification.
        assert [event.name for event in pushed] == ["project", "task", "notification"]
        assert await _email_status(services, ann, "sending")


async def _live_events(services, user, expected: int) -> list:
    found, _ = await services.live_log.after(user.id, START)
    events = [to_live_event(logged.envelope) for logged in found]
    return events if len(events) >= expected else []


async def _email_status(services, user, status: str) -> bool:
    found = await notifications_of(services, user)
    return bool(found) and found[0].email_status == status


async def test_a_message_that_cannot_be_built_fails_at_once_without_retrying(smtp):
    sender = EmailSender(host="127.0.0.1", port=smtp.port, sender="todo@test", attempts=3)

    try:
        await sender.send(
            to="ann@example.com", subject="Reminder: a\nBcc: x", body="", message_id="<1@t>"
        )
    except EmailFailed as failed:
        assert "cannot be built" in failed.error and failed.attempts == 0
    else:
        raise AssertionError("a header with a line break was sent")
    assert smtp.inbox.messages == []


async def test_an_email_a_stopped_worker_left_half_sent_is_sent_once_later(services, smtp):
    """A worker killed while sending leaves its claim: the event is not delivered again (the
    next consumer saw the claim and moved on), so the workers look for such claims."""
    ann = await services.users.create_user(name="ann", email="ann@example.com")
    abandoned = await make_notification(services, ann, title="Reminder: Pay rent")
    busy = await make_notification(services, ann, title="Reminder: Call mum")
    now = utcnow()
    async with services.db.transaction() as session:
        for notification, claimed in ((abandoned, now - timedelta(hours=1)), (busy, now)):
            await session.execute(
                update(Notification)
                .where(Notification.id == notification.id)
                .values(email_status="sending", email_claimed_at=claimed)
            )
    sender = EmailSender(host="127.0.0.1", port=smtp.port, sender="todo@test")
    notifier = EmailNotifier(db=services.db, sender=sender)

    first, second = await notifier.resume_abandoned(), await notifier.resume_abandoned()

    assert (first, second) == (1, 0)
    assert [m["Subject"] for m in smtp.inbox.to("ann@example.com")] == ["Reminder: Pay rent"]
    statuses = {n.title: n.email_status for n in await notifications_of(services, ann)}
    assert statuses == {"Reminder: Pay rent": "sent", "Reminder: Call mum": "sending"}
