"""Event retention: old published events and processed ids go; everything still needed stays."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import insert, select, text

from server.db import utcnow
from server.events.consumer import Delivery
from server.events.dead_letters import park
from server.events.models import DeadLetter, OutboxEvent, ProcessedEvent
from server.events.outbox import event_row
from server.notifications.models import Notification
from server.workers.consumers import notifications_consumer
from server.workers.retention import EventRetention
from server.workers.runner import run_workers
from tests.utils.app import services_on
from tests.utils.events import an_alert, count, eventually, rows

WEEK = timedelta(days=7)


def retention(services, **options) -> EventRetention:
    return EventRetention(db=services.db, retention=WEEK, **options)


async def add_outbox(services, event_id: str, *, created: datetime, published: datetime | None):
    row = event_row(
        topic=services.topics.task_events,
        type="task.created",
        user_id=1,
        subject="task/1",
        data={"user_id": 1, "task": {}},
    )
    row.update(event_id=event_id, created_at=created, published_at=published)
    async with services.db.transaction() as session:
        await session.execute(insert(OutboxEvent), [row])


async def add_processed(services, event_id: str, *, at: datetime, consumer="notifications"):
    async with services.db.transaction() as session:
        session.add(ProcessedEvent(consumer=consumer, event_id=event_id, processed_at=at))


async def outbox_ids(services) -> set[str]:
    return {row.event_id for row in await rows(services, OutboxEvent)}


async def processed_ids(services) -> set[str]:
    async with services.db.session() as session:
        return set(await session.scalars(select(ProcessedEvent.event_id)))


async def test_old_published_events_and_processed_ids_go_and_the_rest_stays(services):
    now = utcnow()
    old, recent = now - WEEK - timedelta(hours=1), now - WEEK + timedelta(hours=1)
    for index in range(5):
        await add_outbox(services, f"old-published-{index}", created=old, published=old)
        await add_processed(services, f"old-{index}", at=old)
    await add_outbox(services, "recent-published", created=old, published=recent)
    await add_outbox(services, "old-pending", created=old - WEEK, published=None)
    await add_processed(services, "recent", at=recent)
    letter = await park(
        services.db, consumer="email", topic="t", envelope={"id": "x"}, error="boom", attempts=5
    )
    async with services.db.transaction() as session:
        (await session.get(DeadLetter, letter.id)).created_at = old - WEEK

    result = await retention(services, batch_size=2).sweep(now)

    assert (result.outbox, result.processed_events) == (5, 5)
    assert await outbox_ids(services) == {"recent-published", "old-pending"}
    assert await processed_ids(services) == {"recent"}
    assert await count(services, DeadLetter) == 1


async def test_a_redelivered_event_whose_id_is_kept_has_no_effect(services, alice):
    envelope = await an_alert(services, alice.user)
    delivery = Delivery(
        db=services.db, consumer=notifications_consumer(services, email_enabled=False)
    )
    await delivery.deliver(envelope)
    await add_processed(services, "long-gone", at=utcnow() - 2 * WEEK)

    # Six days on: the id of the event just handled is still within retention.
    await retention(services).sweep(utcnow() + timedelta(days=6))
    await delivery.deliver(envelope)

    assert await processed_ids(services) == {envelope["id"]}
    assert await count(services, Notification) == 1


async def test_activity_older_than_its_retention_goes_and_the_rest_stays(services, alice):
    from server.activity.models import Activity, ActivityQuery
    from tests.utils.factories import make_task

    await make_task(services, alice.user, title="Kept")
    async with services.db.transaction() as session:
        for days in (91, 120):
            session.add(
                Activity(
                    user_id=alice.user.id,
                    at=utcnow() - timedelta(days=days),
                    type="task.updated",
                    changes={"title": ["a", "b"]},
                )
            )
    sweeper = retention(services, batch_size=1, activity_retention=timedelta(days=90))

    result = await sweeper.sweep()

    assert result.activity == 2
    page = await services.activity.list_activity(user=alice.user, query=ActivityQuery())
    assert [e.type for e in page.events] == ["task.created", "project.created"]


async def test_two_sweeps_at_once_delete_each_old_row_once(services):
    old = utcnow() - 2 * WEEK
    for index in range(30):
        await add_outbox(services, f"old-{index}", created=old, published=old)
        await add_processed(services, f"old-{index}", at=old)

    results = await asyncio.gather(
        retention(services, batch_size=4).sweep(), retention(services, batch_size=4).sweep()
    )

    assert sum(r.outbox for r in results) == 30
    assert sum(r.processed_events for r in results) == 30
    assert await count(services, OutboxEvent) == await count(services, ProcessedEvent) == 0


async def test_the_workers_sweep_when_they_start_and_count_what_they_deleted(runtime, services):
    old = utcnow() - 2 * WEEK
    await add_outbox(services, "old", created=old, published=old)
    await add_processed(services, "old", at=old)

    pruned = services.metrics.registry.get_sample_value

    async def swept() -> bool:
        # Counted once the sweep is over: the rows go first, the metric follows.
        return pruned("event_rows_pruned_total", {"table": "activity"}) is not None

    async with run_workers(services, runtime.bus):
        await eventually(swept)

    assert await count(services, OutboxEvent) + await count(services, ProcessedEvent) == 0
    assert pruned("event_rows_pruned_total", {"table": "outbox"}) == 1
    assert pruned("event_rows_pruned_total", {"table": "processed_events"}) == 1


async def test_a_sweep_finds_old_rows_through_indexes(sqlite_url):
    async with services_on(sqlite_url) as services:
        sweeper = retention(services)
        plans = []
        for stmt in (
            sweeper.published_outbox_batch(utcnow()),
            sweeper.processed_ids_batch(utcnow()),
            sweeper.activity_batch(utcnow()),
        ):
            sql = str(stmt.compile(services.db.engine, compile_kwargs={"literal_binds": True}))
            async with services.db.session() as session:
                plan = await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
                plans.append(" ".join(str(row[-1]) for row in plan))
    outbox_plan, processed_plan, activity_plan = plans
    assert "INDEX ix_outbox_pending (published_at<?)" in outbox_plan
    assert "INDEX ix_processed_events_processed_at (processed_at<?)" in processed_plan
    assert "INDEX ix_activity_at (at<?)" in activity_plan
    # Each batch row is then deleted through its primary key: no table scan, no sort.
    for found in ("SCAN", "TEMP B-TREE"):
        assert found not in outbox_plan + processed_plan + activity_plan
