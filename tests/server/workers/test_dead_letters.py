"""Events a consumer keeps failing on are parked; the CLI lists them and replays one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from server.backoff import Backoff
from server.events.consumer import Consumer, Delivery
from server.events.models import DeadLetter
from server.notifications.models import Notification
from tests.utils.app import services_on
from tests.utils.events import an_alert, count, rows


def failing(name: str, topic: str, calls: list[dict]) -> Consumer:
    async def handle(envelope):
        calls.append(envelope)
        raise RuntimeError("database is down")

    return Consumer(name=name, topic=topic, types=frozenset({"task.due"}), handle=handle)


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "events", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_an_event_that_keeps_failing_is_retried_with_backoff_then_parked(services, alice):
    envelope = await an_alert(services, alice.user)
    calls: list[dict] = []
    consumer = failing("notifications", services.topics.reminders, calls)
    delivery = Delivery(db=services.db, consumer=consumer, attempts=3, backoff=Backoff(first=0.01))

    handled = await delivery.deliver(envelope)

    assert handled is False
    assert len(calls) == 3
    [letter] = await rows(services, DeadLetter)
    assert (letter.consumer, letter.event_id, letter.attempts) == (
        "notifications",
        envelope["id"],
        3,
    )
    assert letter.topic == services.topics.reminders
    assert letter.error == "RuntimeError: database is down"
    assert letter.envelope == envelope
    assert letter.retried_at is None


async def test_events_of_other_types_are_not_handed_to_a_consumer(services, alice):
    calls: list[dict] = []
    consumer = failing("notifications", services.topics.reminders, calls)

    handled = await Delivery(db=services.db, consumer=consumer).deliver({"type": "task.created"})

    assert handled is True
    assert calls == []


@pytest.fixture
async def on_sqlite(sqlite_url):
    """Services on an SQLite file (the CLI runs in a subprocess, so one database will do)."""
    async with services_on(sqlite_url) as services:
        yield services


async def test_the_cli_lists_dead_letters_and_replays_one(on_sqlite, sqlite_url):
    services, database_url = on_sqlite, sqlite_url
    user = await services.users.create_user(name="ann")
    envelope = await an_alert(services, user)
    consumer = failing("notifications", services.topics.reminders, [])
    await Delivery(db=services.db, consumer=consumer, attempts=1).deliver(envelope)
    [letter] = await rows(services, DeadLetter)

    listed = await asyncio.to_thread(cli, database_url, "dead-letters")
    replayed = await asyncio.to_thread(cli, database_url, "retry", str(letter.id))

    assert listed.returncode == 0, listed.stderr
    assert f"{letter.id}  notifications" in listed.stdout
    assert "task.due" in listed.stdout and "RuntimeError: database is down" in listed.stdout
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed event {envelope['id']} to notifications" in replayed.stdout
    [notification] = await rows(services, Notification)
    assert (notification.kind, notification.source_event_id) == ("due", envelope["id"])
    [letter] = await rows(services, DeadLetter)
    assert letter.retried_at is not None
    # Replaying again changes nothing: the consumer knows the event.
    again = await asyncio.to_thread(cli, database_url, "retry", str(letter.id))
    assert again.returncode == 0
    assert await count(services, Notification) == 1


async def test_retrying_an_unknown_dead_letter_is_a_usage_error(sqlite_url):
    missing = await asyncio.to_thread(cli, sqlite_url, "retry", "999")
    garbage = await asyncio.to_thread(cli, sqlite_url, "retry", "abc")

    assert missing.returncode == 2
    assert missing.stderr.strip() == "todo-agent: dead letter 999 not found"
    assert garbage.returncode == 2
    assert "invalid int value" in garbage.stderr
    assert "Traceback" not in missing.stderr + garbage.stderr
