"""GET /api/events with Last-Event-ID: what a client missed while away, once, then live."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.events.models import OutboxEvent
from server.events.outbox import add_event
from server.tasks.models import TaskCreate, TaskUpdate
from tests.conftest import make_account, make_settings
from tests.utils.events import eventually, outbox_drained, running_app, task_due_in
from tests.utils.sse import live_events


@pytest.fixture(params=["in-process", "kafka"])
def bus_settings(request, sqlite_url):
    """The same app on the in-process bus and on Kafka (a broker of the session)."""
    bus = request.getfixturevalue("kafka").settings() if request.param == "kafka" else {}
    return make_settings(database_url=sqlite_url, scheduler_interval_seconds=0.2, **bus)


async def test_a_client_that_reconnects_gets_every_missed_event_once_then_live_ones(
    bus_settings,
):
    async with running_app(bus_settings) as (runtime, base_url):
        services = runtime.services
        ann = await make_account(services, "ann")
        await eventually(lambda: outbox_drained(services))  # her Inbox's event: before the stream
        tasks = services.tasks
        async with live_events(base_url, ann.token) as stream:
            first = await tasks.create_task(user=ann.user, data=TaskCreate(title="Seen"))
            seen = await stream.next_event()
        assert seen.data["task"]["id"] == first.id

        # Away: changes, a completion and a due task's notification, all missed.
        second = await tasks.create_task(user=ann.user, data=TaskCreate(title="Missed"))
        await tasks.update_task(user=ann.user, task_id=second.id, data=TaskUpdate(title="Edited"))
        await tasks.complete_task(user=ann.user, task_id=first.id)
        due = await task_due_in(services, ann.user, -5, title="Call back")
        await eventually(lambda: _settled(services))

        async with live_events(base_url, ann.token, last_event_id=seen.id) as stream:
            missed = [await stream.next_event() for _ in range(5)]
            live = await tasks.create_task(user=ann.user, data=TaskCreate(title="Live"))
            after = await stream.next_event()

    assert [(e.name, _what(e)) for e in missed] == [
        ("task", ("task.created", "Missed")),
        ("task", ("task.updated", "Edited")),
        ("task", ("task.completed", "Seen")),
        ("task", ("task.created", "Call back")),
        ("notification", ("due", due.id)),
    ]
    assert len({e.id for e in missed}) == 5
    assert (after.name, _what(after)) == ("task", ("task.created", "Live"))
    assert after.data["task"]["id"] == live.id


def _what(event) -> tuple:
    if event.name == "task":
        return event.data["type"], event.data["task"]["title"]
    return event.data["notification"]["kind"], event.data["notification"]["task_id"]


async def _settled(services) -> bool:
    """The due task's notification is written and everything is published."""
    async with services.db.session() as session:
        found = await session.scalar(
            select(OutboxEvent.id).where(OutboxEvent.topic == services.topics.notifications)
        )
    return found is not None and await outbox_drained(services)


async def test_a_client_that_saw_no_event_yet_resumes_from_where_its_stream_began(sqlite_url):
    """A new stream opens with an id of its own, so an idle client misses nothing either."""
    settings = make_settings(database_url=sqlite_url)
    async with running_app(settings) as (runtime, base_url):
        services = runtime.services
        ann = await make_account(services, "ann")
        await services.tasks.create_task(user=ann.user, data=TaskCreate(title="Before"))
        await eventually(lambda: outbox_drained(services))
        async with live_events(base_url, ann.token) as stream:
            opened_at = stream.last_event_id
        await services.tasks.create_task(user=ann.user, data=TaskCreate(title="While away"))

        async with live_events(base_url, ann.token, last_event_id=opened_at) as stream:
            event = await stream.next_event()

    assert opened_at
    assert (event.name, event.data["task"]["title"]) == ("task", "While away")


async def test_an_unknown_or_another_users_event_id_gets_a_reset_and_no_replay(sqlite_url):
    settings = make_settings(database_url=sqlite_url)
    async with running_app(settings) as (runtime, base_url):
        services = runtime.services
        ann = await make_account(services, "ann")
        bob = await make_account(services, "bob")
        await services.tasks.create_task(user=bob.user, data=TaskCreate(title="Bob's first"))
        async with live_events(base_url, bob.token) as stream:
            bobs_id = stream.last_event_id
        await services.tasks.create_task(user=bob.user, data=TaskCreate(title="Bob's secret"))
        await services.tasks.create_task(user=ann.user, data=TaskCreate(title="Ann's"))
        await eventually(lambda: outbox_drained(services))

        for forged in (bobs_id, "not-an-id", "x" * 5000):
            async with live_events(base_url, ann.token, last_event_id=forged) as stream:
                reset = await stream.next_event()
                await services.tasks.create_task(user=ann.user, data=TaskCreate(title="Next"))
                following = await stream.next_event()
            assert reset.name == "reset"
            assert "reload" in reset.data["reason"]
            assert (following.name, following.data["task"]["title"]) == ("task", "Next")


async def test_an_event_committed_after_a_later_one_still_reaches_a_reconnecting_client(
    postgres,
):
    """On PostgreSQL ids are taken before commit: the event with the smaller id can commit
    (and be published) last. A client that saw the later one first still gets it."""
    settings = make_settings(database_url=postgres.new_database_url())
    async with running_app(settings) as (runtime, base_url):
        services = runtime.services
        ann = await make_account(services, "ann")
        await eventually(lambda: outbox_drained(services))  # her Inbox's event: before the stream
        async with services.db.transaction() as slow:  # takes its id first, commits last
            add_event(
                slow,
                topic=services.topics.task_events,
                type="task.updated",
                user_id=ann.user.id,
                subject="task/0",
                data={"user_id": ann.user.id, "task": {"id": 0, "title": "Committed last"}},
            )
            await slow.flush()
            async with live_events(base_url, ann.token) as stream:
                await services.tasks.create_task(user=ann.user, data=TaskCreate(title="Fast"))
                fast = await stream.next_event()
        async with live_events(base_url, ann.token, last_event_id=fast.id) as stream:
            late = await stream.next_event()

    assert fast.data["task"]["title"] == "Fast"
    assert late.data["task"]["title"] == "Committed last"
