"""The outbox relay: every committed event reaches the bus, in order per user, despite crashes."""

from __future__ import annotations

import asyncio
import contextlib

from server.events.bus import InProcessBus
from server.events.models import OutboxEvent
from server.workers.relay import OutboxRelay
from tests.utils.app import services_on
from tests.utils.events import eventually, outbox_drained, rows, task_due_in


class FlakyBus(InProcessBus):
    """Refuses the n-th send once, like a broker connection dropping mid-batch."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.sends = 0
        self.fail_at = fail_at

    async def send(self, *, topic, key, envelope):
        self.sends += 1
        if self.sends == self.fail_at:
            raise ConnectionError("broker connection lost")
        return await super().send(topic=topic, key=key, envelope=envelope)


@contextlib.asynccontextmanager
async def relaying(services, bus, received: list[dict], **options):
    async def collect(envelope):
        received.append(envelope)

    relay = OutboxRelay(db=services.db, bus=bus, batch_size=7, **options)
    async with bus.subscribe(topic=services.topics.task_events, group="test", handler=collect):
        task = asyncio.create_task(relay.run())
        try:
            yield relay
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_committed_events_are_published_in_order_per_user(services, alice, bob):
    for index in range(20):
        await task_due_in(services, (alice, bob)[index % 2].user, 60, title=f"t{index}")
    received: list[dict] = []

    async with relaying(services, InProcessBus(), received):
        await eventually(lambda: outbox_drained(services))

    stored = [row.event_id for row in await rows(services, OutboxEvent)]
    assert [e["id"] for e in received] == stored
    for account in (alice, bob):
        titles = [
            e["data"]["task"]["title"]
            for e in received
            if e["userid"] == str(account.user.id) and e["type"] == "task.created"
        ]
        assert titles == sorted(titles, key=lambda t: int(t[1:]))


async def test_events_committed_before_a_failure_mid_publish_are_all_delivered(services, alice):
    """The relay crashes halfway through a batch; nothing is lost, duplicates are allowed."""
    for index in range(20):
        await task_due_in(services, alice.user, 60, title=f"t{index}")
    received: list[dict] = []

    async with relaying(services, FlakyBus(fail_at=10), received):
        await eventually(lambda: outbox_drained(services), within=20)

    stored = {row.event_id for row in await rows(services, OutboxEvent)}
    assert {e["id"] for e in received} == stored


async def test_events_written_while_no_relay_runs_are_sent_when_one_starts(services, alice):
    """A process killed after committing and before publishing: the next relay sends it."""
    await OutboxRelay(db=services.db, bus=InProcessBus()).relay_pending()  # alice's Inbox
    await task_due_in(services, alice.user, 60)
    assert not await outbox_drained(services)
    received: list[dict] = []

    async with relaying(services, InProcessBus(), received):
        await eventually(lambda: outbox_drained(services))

    assert [e["type"] for e in received] == ["task.created"]


async def test_on_postgresql_one_relay_at_a_time_publishes(postgres):
    """Replicas each run a relay; the advisory lock makes one of them the active one, so
    events go out once and in order."""
    async with services_on(postgres.new_database_url()) as services:
        user = await services.users.create_user(name="ann")
        for index in range(30):
            await task_due_in(services, user, 60, title=f"t{index}")
        bus = InProcessBus()
        received: list[dict] = []

        async def collect(envelope):
            received.append(envelope)

        relays = [OutboxRelay(db=services.db, bus=bus, batch_size=4) for _ in range(2)]
        async with bus.subscribe(topic=services.topics.task_events, group="t", handler=collect):
            tasks = [asyncio.create_task(relay.run()) for relay in relays]
            await eventually(lambda: outbox_drained(services))
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    titles = [e["data"]["task"]["title"] for e in received if e["type"] == "task.created"]
    assert titles == [f"t{i}" for i in range(30)]
    assert len(received) == 31  # and the Inbox's project.created, each once
