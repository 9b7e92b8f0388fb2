"""Liveness, readiness and Prometheus metrics, as a load balancer and a scraper see them."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from server.app import create_app
from server.runtime import open_runtime
from server.workers.relay import OutboxRelay
from tests.conftest import make_account, make_settings
from tests.utils.app import http_client
from tests.utils.events import eventually
from tests.utils.factories import post_task


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_live_answers_without_a_token(client):
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_the_database_and_the_bus_answer(client):
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "bus": "ok", "events": "ok"},
        "circuit_breakers": {},  # no provider and no AGENT_MCP_URL configured
    }


async def test_not_ready_while_events_wait_in_the_outbox_longer_than_event_stall_seconds(
    sqlite_url,
):
    settings = make_settings(database_url=sqlite_url, event_stall_seconds=1)
    async with (
        open_runtime(settings) as runtime,  # no workers: no relay, events wait
        http_client(create_app(runtime)) as client,
    ):
        alice = await make_account(runtime.services, "alice")
        await post_task(client, alice.headers, title="Pay rent")

        stuck = await eventually(lambda: readiness(client, 503))
        backlog = samples((await client.get("/metrics")).text)
        await OutboxRelay(db=runtime.services.db, bus=runtime.bus).relay_pending()
        flowing = await eventually(lambda: readiness(client, 200))

    assert stuck["status"] == "unavailable"
    # Alice's Inbox (project.created) and her task (task.created) wait.
    assert stuck["checks"]["events"].startswith("stalled: events waiting in the outbox: 2")
    assert backlog[("outbox_pending_events", frozenset())] == 2
    assert backlog[("outbox_oldest_pending_age_seconds", frozenset())] > 1
    assert flowing["checks"] == {"database": "ok", "bus": "ok", "events": "ok"}


async def readiness(client, status: int) -> dict | None:
    response = await client.get("/health/ready")
    return response.json() if response.status_code == status else None


async def test_metrics_count_requests_by_route_and_created_tasks(client, alice):
    task = await post_task(client, alice.headers, title="Pay rent")
    await post_task(client, alice.headers, title="Buy milk")
    await client.get(f"/api/tasks/{task['id']}", headers=alice.headers)
    await client.get("/api/tasks/999999", headers=alice.headers)

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values = samples(response.text)

    def requests(method: str, route: str, status: str) -> float:
        labels = frozenset({"method": method, "route": route, "status": status}.items())
        return values.get(("http_requests_total", labels), 0)

    assert requests("POST", "/api/tasks", "201") == 2
    assert requests("GET", "/api/tasks/{task_id}", "200") == 1
    assert requests("GET", "/api/tasks/{task_id}", "404") == 1
    assert values[("tasks_created_total", frozenset())] == 2


async def test_an_oversized_body_is_refused_with_413(client, alice):
    body = b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/api/tasks", content=body, headers={**alice.headers, "content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


async def test_an_oversized_chunked_body_is_refused_with_413(client, alice):
    async def chunks():
        for _ in range(40):
            yield b"x" * 65536

    response = await client.post(
        "/api/tasks",
        content=chunks(),
        headers={**alice.headers, "content-type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
