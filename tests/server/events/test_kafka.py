"""The same workers through Kafka (Tansu): exactly-once effects, scale-out and outages; the
bus creates its topics."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import IllegalStateError, UnsupportedVersionError

from server.events.kafka import KafkaBus
from server.events.kafka_topics import TOPIC_PARTITIONS
from server.events.outbox import Topics
from server.notifications.models import Notification
from server.tasks.models import TaskAlert
from testkit.kafka import Tansu
from tests.conftest import make_settings
from tests.utils.events import count, eventually, outbox_drained, rows, started, task_due_in


def kafka_settings(database_url, kafka, smtp=None):
    return make_settings(
        database_url=database_url,
        scheduler_interval_seconds=0.2,
        **kafka.settings(),
        **(smtp.settings() if smtp else {}),
    )


async def all_emailed(services, expected: int) -> bool:
    sent = await count(services, Notification, Notification.email_status == "sent")
    return sent >= expected and await outbox_drained(services)


async def test_a_due_task_gives_one_notification_and_one_email_through_kafka(
    database_url, kafka, smtp
):
    async with started(kafka_settings(database_url, kafka, smtp)) as runtime:
        services = runtime.services
        user = await services.users.create_user(name="ann", email="ann@example.com")
        task = await task_due_in(services, user, 20, remind_before_minutes=20)

        await eventually(lambda: all_emailed(services, 1), within=30)

        [notification] = await rows(services, Notification)
        assert (notification.kind, notification.task_id) == ("reminder", task.id)
        assert notification.email_attempts == 1
        [email] = smtp.inbox.messages
        assert (email["To"], email["Subject"]) == ("ann@example.com", "Reminder: Pay rent")


async def test_two_workers_at_once_give_no_duplicates(database_url, kafka, smtp):
    """Two schedulers, two relays and two members of each consumer group on one database."""
    settings = kafka_settings(database_url, kafka, smtp)
    async with started(settings) as runtime, started(settings):
        services = runtime.services
        users = [
            await services.users.create_user(name=f"u{i}", email=f"u{i}@example.com")
            for i in range(12)
        ]
        for user in users:
            await task_due_in(services, user, -5)
            await task_due_in(services, user, 10, remind_before_minutes=15)

        await eventually(lambda: all_emailed(services, 24), within=45)

        assert await count(services, TaskAlert) == 24
        assert await count(services, Notification) == 24
        assert len(smtp.inbox.messages) == 24
        assert sorted(m["To"] for m in smtp.inbox.messages) == sorted([u.email for u in users] * 2)


@pytest.fixture
def own_broker():
    """A broker of this test's own, to stop and start again."""
    broker = Tansu()
    broker.start()
    yield broker
    broker.stop()


async def test_a_broker_outage_loses_no_event(sqlite_url, own_broker):
    settings = kafka_settings(sqlite_url, own_broker)
    async with started(settings) as runtime:
        services = runtime.services
        user = await services.users.create_user(name="ann")
        for _ in range(5):
            await task_due_in(services, user, -5)
        await eventually(lambda: notified(services, 5), within=30)

        own_broker.stop()
        with pytest.raises(Exception):  # noqa: B017 (/health/ready turns 503 on any failure)
            await asyncio.wait_for(runtime.bus.ping(), timeout=3)
        for _ in range(5):  # written while the broker is down: they wait in the outbox
            await task_due_in(services, user, -5)
        await eventually(lambda: _has_alerts(services, 10))
        assert not await outbox_drained(services)
        own_broker.start()

        await eventually(lambda: notified(services, 10), within=60)
        await runtime.bus.ping()
        assert await count(services, Notification) == 10


async def notified(services, expected: int) -> bool:
    return await count(services, Notification) >= expected and await outbox_drained(services)


async def _has_alerts(services, expected: int) -> bool:
    return await count(services, TaskAlert) >= expected


async def partitions_by_topic(broker: Tansu) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        # Every topic's metadata: asking for named ones would have the broker create them.
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
    finally:
        await admin.close()


def topic_logs(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "topic" in r.getMessage()]


async def test_the_bus_creates_its_topics_when_it_starts(kafka, caplog):
    settings = make_settings(**kafka.settings())
    topics = Topics.from_settings(settings)

    with caplog.at_level(logging.INFO, logger="server.events"):
        async with KafkaBus(settings=settings, topics=topics):
            found = await partitions_by_topic(kafka)
        created = topic_logs(caplog)
        caplog.clear()
        async with KafkaBus(settings=settings, topics=topics):  # they exist now: nothing to do
            pass

    assert {topic: found.get(topic) for topic in topics.all()} == dict.fromkeys(
        topics.all(), TOPIC_PARTITIONS
    )
    assert len(created) == 3
    assert topic_logs(caplog) == []


async def test_a_broker_refusing_to_create_topics_leaves_it_to_auto_creation(
    kafka, caplog, monkeypatch
):
    async def refuse(self, new_topics, **options):
        raise UnsupportedVersionError("CreateTopics")

    monkeypatch.setattr(AIOKafkaAdminClient, "create_topics", refuse)
    settings = make_settings(**kafka.settings())
    topics = Topics.from_settings(settings)

    with caplog.at_level(logging.WARNING, logger="server.events"):
        async with KafkaBus(settings=settings, topics=topics) as bus:
            await bus.publish(topic=topics.reminders, key="1", envelope={"id": "e1"})

    [warning] = topic_logs(caplog)
    assert "relying on auto-creation" in warning
    assert topics.reminders in await partitions_by_topic(kafka)


async def test_a_consumer_that_fails_is_replaced_and_consumption_goes_on(
    kafka, caplog, monkeypatch
):
    """A seek can raise after a rebalance (IllegalStateError): the subscription logs it, makes
    a new consumer and reads on from the last commit."""
    seek = AIOKafkaConsumer.seek
    seeks = 0

    def seek_once_broken(self, partition, offset):
        nonlocal seeks
        seeks += 1
        if seeks == 1:
            raise IllegalStateError("no current assignment for partition")
        return seek(self, partition, offset)

    monkeypatch.setattr(AIOKafkaConsumer, "seek", seek_once_broken)
    handled: list[str] = []

    async def fails_once(envelope) -> None:
        if seeks == 0:
            raise RuntimeError("a handler failing once makes the consumer seek back")
        handled.append(envelope["id"])

    settings = make_settings(**kafka.settings())
    topics = Topics.from_settings(settings)
    with caplog.at_level(logging.ERROR, logger="server.events"):
        async with (
            KafkaBus(settings=settings, topics=topics) as bus,
            bus.subscribe(topic=topics.reminders, group="test", handler=fails_once),
        ):
            await bus.publish(topic=topics.reminders, key="1", envelope={"id": "e1"})
            await eventually(lambda: _handled(handled, "e1"), within=20)
            await bus.publish(topic=topics.reminders, key="1", envelope={"id": "e2"})
            await eventually(lambda: _handled(handled, "e2"), within=20)

    assert handled == ["e1", "e2"]
    [failure] = [r for r in caplog.records if r.exc_info and r.exc_info[0] is IllegalStateError]
    assert failure.getMessage().startswith(f"consumer {topics.reminders}/test failed")


async def _handled(handled: list[str], event_id: str) -> bool:
    return event_id in handled


async def test_batched_sends_keep_each_users_order_and_partition(kafka):
    # A topic of its own: the broker is shared by the whole test session.
    own_topic = {"kafka_topic_task_events": f"order-{uuid.uuid4()}"}
    settings = make_settings(**(kafka.settings() | own_topic))
    topics = Topics.from_settings(settings)
    topic = topics.task_events
    events = [(f"user-{i % 7}", {"n": i, "user": f"user-{i % 7}"}) for i in range(3000)]

    async with KafkaBus(settings=settings, topics=topics) as bus:
        await (await bus.send_many(topic=topic, events=events))
        # A single send puts the same key on the same partition as the batches did.
        single = await (await bus.send(topic=topic, key="user-3", envelope={"n": -1}))

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        seen: dict[str, list[int]] = {}
        partition_of: dict[str, set[int]] = {}
        while sum(map(len, seen.values())) < len(events) + 1:
            batch = await consumer.getmany(timeout_ms=2000)
            assert batch, "events went missing"
            for records in batch.values():
                for record in records:
                    key = record.key.decode()
                    seen.setdefault(key, []).append(json.loads(record.value)["n"])
                    partition_of.setdefault(key, set()).add(record.partition)
    finally:
        await consumer.stop()

    for key, numbers in seen.items():
        assert numbers == sorted(numbers, key=lambda n: (n == -1, n)), key
        assert len(partition_of[key]) == 1, key
    assert single.partition in partition_of["user-3"]
