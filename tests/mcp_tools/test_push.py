"""Live push to MCP clients that listen (`subscriptions/listen`): in memory, over stdio and
over HTTP, and from one replica to another through Kafka."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import anyio
import httpx
from mcp import Client
from mcp.client.subscriptions import Subscription
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated, ServerEvent

from mcp_tools.session import in_process_client
from server.comments.models import CommentCreate
from server.db import utcnow
from server.tasks.models import TaskCreate, TaskUpdate
from tests.conftest import make_account, make_settings
from tests.utils.events import eventually, outbox_drained, running_app, started
from tests.utils.mcp import http_client, stdio_params


def an_hour_ago() -> str:
    return (utcnow() - timedelta(hours=1)).isoformat()


async def next_event(sub: Subscription, within: float) -> ServerEvent:
    with anyio.fail_after(within):
        return await anext(sub)


async def wait_for(sub: Subscription, wanted: ServerEvent, *, within: float) -> list[ServerEvent]:
    """The events up to and including `wanted`; fails when it does not come in time."""
    seen: list[ServerEvent] = []
    with anyio.fail_after(within):
        async for event in sub:
            seen.append(event)
            if event == wanted:
                return seen
    raise AssertionError(f"the stream ended before {wanted}: {seen}")


async def test_a_listener_is_told_when_its_task_and_lists_change(sqlite_url):
    settings = make_settings(database_url=sqlite_url)
    async with started(settings) as runtime:
        services = runtime.services
        alice = await make_account(services, "alice")
        task = await services.tasks.create_task(user=alice.user, data=TaskCreate(title="Milk"))
        await eventually(lambda: outbox_drained(services))
        watched = [f"task://{task.id}", "tasks://today"]
        async with (
            in_process_client(runtime.mcp, alice.user) as client,
            client.listen(resource_subscriptions=watched, resources_list_changed=True) as sub,
        ):
            await services.tasks.update_task(
                user=alice.user, task_id=task.id, data=TaskUpdate(title="Oat milk")
            )
            changed = await wait_for(sub, ResourceUpdated(uri=f"task://{task.id}"), within=10)
            await wait_for(sub, ResourceUpdated(uri="tasks://today"), within=10)
            added = await services.tasks.create_task(
                user=alice.user, data=TaskCreate(title="Bread")
            )
            listed = await wait_for(sub, ResourcesListChanged(), within=10)
            reread = await client.read_resource(f"task://{task.id}")

    assert "Oat milk" in reread.contents[0].text
    # Only what was asked for: not the new task's own resource, nor an unwatched project.
    assert all(isinstance(e, ResourcesListChanged) or e.uri in watched for e in [*changed, *listed])
    assert ResourceUpdated(uri=f"task://{added.id}") not in listed


async def test_a_listener_hears_nothing_of_another_users_changes(sqlite_url):
    settings = make_settings(database_url=sqlite_url)
    async with started(settings) as runtime:
        services = runtime.services
        alice = await make_account(services, "alice")
        bob = await make_account(services, "bob")
        mine = await services.tasks.create_task(user=alice.user, data=TaskCreate(title="Mine"))
        await eventually(lambda: outbox_drained(services))  # pushed before anyone listened
        async with (
            in_process_client(runtime.mcp, alice.user) as client,
            client.listen(
                resource_subscriptions=["tasks://today", f"task://{mine.id}"],
                resources_list_changed=True,
            ) as sub,
        ):
            await services.tasks.create_task(user=bob.user, data=TaskCreate(title="Bob's"))
            # Then a change of alice's that reaches only her task's resource.
            await services.comments.add_comment(
                user=alice.user, task_id=mine.id, data=CommentCreate(text="Soon")
            )
            first = await next_event(sub, within=10)

    assert first == ResourceUpdated(uri=f"task://{mine.id}")


async def test_a_dropped_listen_stream_costs_nothing(sqlite_url):
    settings = make_settings(database_url=sqlite_url)
    async with started(settings) as runtime:
        services = runtime.services
        alice = await make_account(services, "alice")
        async with in_process_client(runtime.mcp, alice.user) as client:
            async with client.listen(resources_list_changed=True):
                assert runtime.listeners.streams(alice.user.id) == 1
            # Gone with its stream; changes still work and tools still answer.
            await eventually(lambda: _no_streams(runtime, alice.user.id), within=5)
            await services.tasks.create_task(user=alice.user, data=TaskCreate(title="Later"))
            listed = await client.call_tool("list_tasks", {})
    assert not listed.is_error


async def test_an_http_listener_on_one_replica_hears_a_rest_change_on_another(postgres, kafka):
    """Two servers on one PostgreSQL and one Kafka broker (Tansu): a change made through REST
    on the first reaches a client listening over streamable HTTP on the second."""
    settings = make_settings(database_url=postgres.new_database_url(), **kafka.settings())
    async with (
        running_app(settings, workers=True) as (runtime, first),
        running_app(settings, workers=False) as (_, second),
        httpx.AsyncClient() as rest,
    ):
        alice = await make_account(runtime.services, "alice")
        async with (
            http_client(second, alice.token) as client,
            client.listen(
                resource_subscriptions=["tasks://today"], resources_list_changed=True
            ) as sub,
        ):
            # The second replica's broadcast subscription may still be joining the topic:
            # a first change shows the path is open (no replay for listen streams).
            await rest.post(f"{first}/api/tasks", json={"title": "Warm up"}, headers=alice.headers)
            await wait_for(sub, ResourcesListChanged(), within=30)
            await _drain(sub)

            created = await rest.post(
                f"{first}/api/tasks",
                json={"title": "Water plants", "due": an_hour_ago()},
                headers=alice.headers,
            )
            assert created.status_code == 201
            seen = await wait_for(sub, ResourceUpdated(uri="tasks://today"), within=1)
            today = await client.read_resource("tasks://today")

    assert ResourcesListChanged() in seen
    assert "Water plants" in today.contents[0].text


async def test_a_stdio_listener_hears_a_change_made_elsewhere(postgres, kafka):
    """`todo-agent mcp` with the shared bus configured is pushed what `serve` changes."""
    settings = make_settings(database_url=postgres.new_database_url(), **kafka.settings())
    async with running_app(settings, workers=True) as (runtime, base_url):
        alice = await make_account(runtime.services, "alice")
        params = stdio_params(settings.database_url, "alice")
        params.env |= {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "KAFKA_TOPIC_TASK_EVENTS": settings.kafka_topic_task_events,
            "KAFKA_TOPIC_REMINDERS": settings.kafka_topic_reminders,
            "KAFKA_TOPIC_NOTIFICATIONS": settings.kafka_topic_notifications,
        }
        async with (
            Client(params) as client,
            client.listen(resources_list_changed=True) as sub,
            httpx.AsyncClient() as rest,
        ):
            await rest.post(
                f"{base_url}/api/tasks",
                json={"title": "Fix bike", "due": an_hour_ago()},
                headers=alice.headers,
            )
            await wait_for(sub, ResourcesListChanged(), within=30)
            listed = await client.list_resources()
    assert "Fix bike" in {r.title for r in listed.resources}


async def _no_streams(runtime, user_id: int) -> bool:
    return runtime.listeners.streams(user_id) == 0


async def _drain(sub: Subscription) -> None:
    """Read what has already arrived (a level trigger: what is left says nothing new)."""
    with contextlib.suppress(TimeoutError):
        while True:
            await next_event(sub, within=0.3)
