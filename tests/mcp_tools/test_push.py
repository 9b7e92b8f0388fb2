"""Live push to MCP clients that listen (`subscriptions/listen`): in memory, over stdio and
over HTTP, and from one replica to another through Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.subscriptions import Subscription
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated, ServerEvent
from mcp_types import ResourceUpdatedNotification

from mcp_tools.session import in_process_client
from server.app import create_app
from server.comments.models import CommentCreate
from server.db import utcnow
from server.tasks.models import TaskCreate, TaskUpdate
from testkit.servers import serve_app
from tests.conftest import make_account, make_settings
from tests.utils.events import eventually, outbox_drained, running_app, started
from tests.utils.mcp import http_client, stdio_params


def an_hour_ago() -> str:
    return (utcnow() - timedelta(hours=1)).isoformat()


async def poke_until_heard(poke, heard, *, within: float = 30, every: float = 2):
    """Repeat `poke` until `heard()` returns: a process that just started may still be
    joining the broker's topic when the first change goes by (listening has no replay)."""
    deadline = time.monotonic() + within
    while True:
        await poke()
        try:
            return await asyncio.wait_for(heard(), every)
        except TimeoutError:
            if time.monotonic() > deadline:
                raise


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
    async with running_app(settings) as (runtime, base_url):
        services = runtime.services
        alice = await make_account(services, "alice")
        async with http_client(base_url, alice.token) as client:
            async with client.listen(resources_list_changed=True):
                assert runtime.listeners.streams(alice.user.id) == 1
            # The HTTP response ended: its listener is gone; the next calls are as before.
            await eventually(lambda: _no_streams(runtime, alice.user.id), within=5)
            await services.tasks.create_task(user=alice.user, data=TaskCreate(title="Later"))
            listed = await client.call_tool("list_tasks", {})
    assert not listed.is_error
    assert listed.structured_content["tasks"][0]["title"] == "Later"


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
            # a first change heard shows the path is open.
            await poke_until_heard(
                lambda: rest.post(
                    f"{first}/api/tasks", json={"title": "Warm up"}, headers=alice.headers
                ),
                lambda: wait_for(sub, ResourcesListChanged(), within=30),
            )
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


def stdio_on_the_bus(settings, user: str):
    """`todo-agent mcp` as `user` on the database and Kafka topics of `settings`."""
    params = stdio_params(settings.database_url, user)
    params.env |= {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_TASK_EVENTS": settings.kafka_topic_task_events,
        "KAFKA_TOPIC_REMINDERS": settings.kafka_topic_reminders,
        "KAFKA_TOPIC_NOTIFICATIONS": settings.kafka_topic_notifications,
    }
    return params


async def test_a_stdio_listener_hears_a_change_made_elsewhere(postgres, kafka):
    """`todo-agent mcp` with the shared bus configured is pushed what `serve` changes."""
    settings = make_settings(database_url=postgres.new_database_url(), **kafka.settings())
    async with running_app(settings, workers=True) as (runtime, base_url):
        alice = await make_account(runtime.services, "alice")
        async with (
            Client(stdio_on_the_bus(settings, "alice")) as client,
            client.listen(resources_list_changed=True) as sub,
            httpx.AsyncClient() as rest,
        ):
            await poke_until_heard(
                lambda: rest.post(
                    f"{base_url}/api/tasks",
                    json={"title": "Fix bike", "due": an_hour_ago()},
                    headers=alice.headers,
                ),
                lambda: wait_for(sub, ResourcesListChanged(), within=30),
            )
            listed = await client.list_resources()
    assert "Fix bike" in {r.title for r in listed.resources}


@pytest.mark.filterwarnings("ignore:resources/")
async def test_an_older_stdio_client_that_subscribed_hears_a_change_made_elsewhere(postgres, kafka):
    settings = make_settings(database_url=postgres.new_database_url(), **kafka.settings())
    async with running_app(settings, workers=True) as (runtime, base_url):
        alice = await make_account(runtime.services, "alice")
        updates = Updates()
        params = stdio_on_the_bus(settings, "alice")
        async with (
            Client(params, mode="legacy", message_handler=updates) as client,
            httpx.AsyncClient() as rest,
        ):
            await client.session.subscribe_resource("tasks://today")
            uri = await poke_until_heard(
                lambda: rest.post(
                    f"{base_url}/api/tasks",
                    json={"title": "Fix bike", "due": an_hour_ago()},
                    headers=alice.headers,
                ),
                lambda: updates.next(within=30),
            )
    assert uri == "tasks://today"


async def _no_streams(runtime, user_id: int) -> bool:
    return runtime.listeners.streams(user_id) == 0


async def _drain(sub: Subscription) -> None:
    """Read what has already arrived (a level trigger: what is left says nothing new)."""
    with contextlib.suppress(TimeoutError):
        while True:
            await next_event(sub, within=0.3)


class Updates:
    """A client's message handler keeping the URIs of `notifications/resources/updated`."""

    def __init__(self) -> None:
        self.uris: asyncio.Queue[str] = asyncio.Queue()

    async def __call__(self, message) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            await self.uris.put(message.params.uri)

    async def next(self, within: float) -> str:
        return await asyncio.wait_for(self.uris.get(), within)


@pytest.mark.filterwarnings("ignore:resources/")
async def test_an_older_client_that_subscribed_is_told_of_its_resource(sqlite_url):
    """Before 2026-07-28 a client watches with resources/subscribe on a lasting session."""
    settings = make_settings(database_url=sqlite_url)
    async with started(settings) as runtime:
        services = runtime.services
        alice = await make_account(services, "alice")
        task = await services.tasks.create_task(user=alice.user, data=TaskCreate(title="Tea"))
        other = await services.tasks.create_task(user=alice.user, data=TaskCreate(title="Jam"))
        await eventually(lambda: outbox_drained(services))
        updates = Updates()
        async with in_process_client(
            runtime.mcp, alice.user, mode="legacy", message_handler=updates
        ) as client:
            assert client.server_capabilities.resources.subscribe is True
            await client.session.subscribe_resource(f"task://{task.id}")
            await services.comments.add_comment(
                user=alice.user, task_id=other.id, data=CommentCreate(text="Not watched")
            )
            await services.comments.add_comment(
                user=alice.user, task_id=task.id, data=CommentCreate(text="Green")
            )
            first = await updates.next(within=10)
            await client.session.unsubscribe_resource(f"task://{task.id}")

    assert first == f"task://{task.id}"


@pytest.mark.filterwarnings("ignore:resources/")
async def test_resources_subscribe_over_stateless_http_points_to_listen(runtime, alice):
    async with serve_app(create_app(runtime)) as base_url:
        async with http_client(base_url, alice.token, mode="legacy") as client:
            with pytest.raises(MCPError, match="subscriptions/listen"):
                await client.session.subscribe_resource("tasks://today")
