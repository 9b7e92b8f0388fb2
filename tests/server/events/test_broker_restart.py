"""A broker that restarts empty (as Tansu does, as a cluster that lost its topics does) under
running processes: they heal by themselves, readiness tells the truth meanwhile, and the
logs stay readable."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.notifications.models import Notification
from testkit.kafka import Tansu
from testkit.servers import free_port
from tests.conftest import Account, make_settings
from tests.utils.app import services_on
from tests.utils.events import (
    count,
    eventually,
    outbox_drained,
    running_app,
    started,
    task_due_in,
)
from tests.utils.processes import Process, todo_agent
from tests.utils.sse import live_events

# Small bounds, so that healing and stalls show within a few seconds.
QUICK = {"kafka_stall_seconds": 2, "event_stall_seconds": 2, "scheduler_interval_seconds": 0.2}


@pytest.fixture
def own_broker():
    """A broker of this test's own, to stop and start again (empty)."""
    broker = Tansu()
    broker.start()
    yield broker
    broker.stop()


async def readiness(base_url: str) -> tuple[int, dict]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.get("/health/ready")
    return response.status_code, response.json()["checks"]


async def test_a_broker_restarted_empty_under_a_worker_and_an_app_heals_both(
    sqlite_url, own_broker, smtp
):
    settings = make_settings(
        database_url=sqlite_url, **QUICK, **own_broker.settings(), **smtp.settings()
    )
    async with (
        started(settings),
        running_app(settings, workers=False) as (runtime, base_url),
    ):
        services = runtime.services
        user = await services.users.create_user(name="ann", email="ann@example.com")
        ann = Account(user, await services.users.create_token(name="ann"))
        async with live_events(base_url, ann.token) as stream:
            await task_due_in(services, ann.user, -5, title="Before")
            assert (await stream.next("notification"))["notification"]["title"] == "Due now: Before"
            await eventually(lambda: emailed(smtp, 1))
            await eventually(lambda: ready(base_url))

            own_broker.stop()
            await task_due_in(services, ann.user, -5, title="During")  # waits in the outbox
            status, checks = await eventually(lambda: stuck(base_url))
            own_broker.start()  # empty: no topics, no groups, no offsets

            during = await stream.next("notification", within=30)
            await task_due_in(services, ann.user, -5, title="After")
            after = await stream.next("notification", within=30)
            await eventually(lambda: emailed(smtp, 3), within=30)
            back = await eventually(lambda: ready(base_url), within=30)
            metrics = await scrape(base_url)

    assert status == 503
    assert checks["bus"].startswith("unavailable: unreachable")
    assert "events waiting in the outbox" in checks["events"]
    assert (during["notification"]["title"], after["notification"]["title"]) == (
        "Due now: During",
        "Due now: After",
    )
    assert sorted(m["Subject"] for m in smtp.inbox.messages) == [
        "Due now: After",
        "Due now: Before",
        "Due now: During",
    ]
    assert await count(services, Notification) == 3
    assert back == {"database": "ok", "bus": "ok", "events": "ok"}
    groups = {labels["group"] for name, labels, _ in metrics if name == "kafka_consumer_group_lag"}
    assert {group.split(".")[1] for group in groups} == {"notifications", "recurrence", "email"}
    assert {
        "kafka_consumer_group_last_commit_age_seconds",
        "event_consumer_last_fetch_age_seconds",
        "outbox_pending_events",
        "outbox_oldest_pending_age_seconds",
    } <= {name for name, _, _ in metrics}


async def emailed(smtp, expected: int) -> bool:
    return len(smtp.inbox.messages) >= expected


async def stuck(base_url: str) -> tuple[int, dict] | None:
    """Readiness once the event made during the outage has waited too long."""
    status, checks = await readiness(base_url)
    return (status, checks) if "in the outbox" in checks["events"] else None


async def ready(base_url: str) -> dict | None:
    status, checks = await readiness(base_url)
    return checks if status == 200 else None


async def scrape(base_url: str) -> list[tuple[str, dict, float]]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        text = (await http.get("/metrics")).text
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


async def test_a_20_second_outage_logs_a_few_lines_not_thousands(sqlite_url, own_broker, tmp_path):
    """A worker and an API as real processes, with alerts coming due while the broker is
    away; its return is noticed and what waited is delivered."""
    env = {
        "DATABASE_URL": sqlite_url,
        "SCHEDULER_INTERVAL_SECONDS": "0.2",
        "KAFKA_OUTAGE_LOG_SECONDS": "10",
        **{name.upper(): str(value) for name, value in (own_broker.settings() | QUICK).items()},
    }
    port = free_port()
    async with (
        services_on(sqlite_url) as services,
        todo_agent(tmp_path, "worker", env=env) as worker,
        todo_agent(
            tmp_path, "serve", "--no-workers", "--port", str(port), env=env, name="api"
        ) as api,
    ):
        ann = await services.users.create_user(name="ann")
        await eventually(lambda: both_ready(worker, api), within=30)
        before = {p.name: len(p.lines) for p in (worker, api)}

        own_broker.stop()
        stopped = time.monotonic()
        for _ in range(10):
            await task_due_in(services, ann, -5)
            await asyncio.sleep(2)
        # One summary per KAFKA_OUTAGE_LOG_SECONDS (10) the outage lasted: on a slow machine
        # the 20 s of sleeps take a little longer, and the second summary falls inside.
        summaries = int((time.monotonic() - stopped) // 10)
        # All but the scheduler's line per alert: that is the work, not the outage.
        during = {
            p.name: [line for line in p.lines[before[p.name] :] if "scheduler tick" not in line]
            for p in (worker, api)
        }
        own_broker.start()
        await eventually(lambda: back(worker, api), within=30)
        await eventually(lambda: notified(services, 10), within=30)

    for name, lines in during.items():
        assert 1 <= len(lines) <= 4 + summaries, f"{name} logged {len(lines)} lines:\n" + "\n".join(
            lines
        )
        assert sum("WARNING" in line for line in lines) <= 2 + summaries, "\n".join(lines)
        assert [line for line in lines if "Traceback" in line or "ERROR" in line] == []
    for process in (worker, api):
        assert process.said("is reachable again after"), process.lines[-20:]


async def both_ready(worker: Process, api: Process) -> bool:
    return await worker.saying("todo-agent worker ready") and await api.saying("todo-agent ready")


async def notified(services, expected: int) -> bool:
    return await count(services, Notification) == expected and await outbox_drained(services)


async def back(worker: Process, api: Process) -> bool:
    return all(p.said("is reachable again after") for p in (worker, api))
