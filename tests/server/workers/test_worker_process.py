"""`todo-agent worker` as a real process: stops cleanly on SIGTERM, survives SIGKILL."""

from __future__ import annotations

import asyncio
import signal

import pytest

from server.notifications.models import Notification
from server.tasks.models import TaskAlert
from tests.utils.app import services_on
from tests.utils.events import count, eventually, outbox_drained, task_due_in
from tests.utils.processes import todo_agent


def worker(cwd, **env: str):
    """`todo-agent worker` with `env`, yielded once it is ready."""
    return todo_agent(cwd, "worker", env=env, ready="todo-agent worker ready")


@pytest.fixture
async def arranged(sqlite_url):
    """Services on the SQLite file the worker process uses, to arrange and observe."""
    async with services_on(sqlite_url) as services:
        yield services


async def notified(services, expected: int) -> bool:
    return await count(services, Notification) >= expected and await outbox_drained(services)


async def test_worker_runs_until_sigterm_and_stops_in_reverse_order(arranged, sqlite_url, tmp_path):
    user = await arranged.users.create_user(name="ann")
    env = {"DATABASE_URL": sqlite_url, "SCHEDULER_INTERVAL_SECONDS": "0.2"}
    async with worker(tmp_path, **env) as running:
        await task_due_in(arranged, user, -5)
        await eventually(lambda: notified(arranged, 1))

        running.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(running.process.wait(), timeout=20)

    assert code == 0
    order = [line for line in running.lines if line.endswith(" stopped")]
    assert [line.split("] ")[-1] for line in order] == [
        "OAuth cleanup stopped",
        "event retention stopped",
        "deadline scheduler stopped",
        "outbox relay stopped",
    ]
    assert not running.said("Traceback")


async def test_a_worker_killed_mid_run_loses_no_event(arranged, sqlite_url, tmp_path, kafka):
    settings = kafka.settings()
    env = {
        "DATABASE_URL": sqlite_url,
        "SCHEDULER_INTERVAL_SECONDS": "0.2",
        **{name.upper(): str(value) for name, value in settings.items()},
    }
    user = await arranged.users.create_user(name="ann")
    async with worker(tmp_path, **env) as first:
        for _ in range(10):
            await task_due_in(arranged, user, -5)
        await eventually(lambda: _some_notified(arranged))
        first.process.kill()  # SIGKILL: no clean-up of any kind
        await first.process.wait()
    for _ in range(10):
        await task_due_in(arranged, user, -5)

    async with worker(tmp_path, **env):
        await eventually(lambda: notified(arranged, 20), within=60)

    assert await count(arranged, TaskAlert) == 20
    assert await count(arranged, Notification) == 20


async def _some_notified(services) -> bool:
    return await count(services, Notification) > 0
