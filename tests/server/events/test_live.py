"""GET /api/events: a user's task and project changes, comments and new notifications, pushed
live over SSE."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import httpx

from server.db import utcnow
from server.tasks.models import TaskCreate
from tests.conftest import make_account, make_settings
from tests.utils.events import running_app
from tests.utils.sse import live_events


async def test_task_changes_and_due_notifications_are_pushed_live(settings):
    async with running_app(settings) as (runtime, base_url):
        services = runtime.services
        alice = await make_account(services, "alice")
        async with live_events(base_url, alice.token) as stream, httpx.AsyncClient() as http:
            due = (utcnow() - timedelta(minutes=5)).isoformat()
            created = await http.post(
                f"{base_url}/api/tasks",
                json={"title": "Call mum", "due": due},
                headers=alice.headers,
            )
            assert created.status_code == 201

            task_event = await stream.next("task")
            notification_event = await stream.next("notification")

    assert task_event["type"] == "task.created"
    assert task_event["task"]["id"] == created.json()["id"]
    assert task_event["task"]["title"] == "Call mum"
    notification = notification_event["notification"]
    assert (notification["kind"], notification["task_id"]) == ("due", created.json()["id"])
    assert notification["title"] == "Due now: Call mum"
    assert notification["read"] is False


async def test_other_users_events_are_not_pushed(sqlite_url):
    settings = make_settings(database_url=sqlite_url, scheduler_interval_seconds=0.2)
    async with running_app(settings) as (runtime, base_url):
        services = runtime.services
        alice = await make_account(services, "alice")
        bob = await make_account(services, "bob")
        async with (
            live_events(base_url, alice.token) as alices,
            live_events(base_url, bob.token) as bobs,
        ):
            await services.tasks.create_task(user=alice.user, data=TaskCreate(title="Alice's"))
            await services.tasks.create_task(user=bob.user, data=TaskCreate(title="Bob's"))

            assert (await alices.next("task"))["task"]["title"] == "Alice's"
            assert (await bobs.next("task"))["task"]["title"] == "Bob's"
            assert alices.events.empty()


async def test_the_stream_needs_a_token(sqlite_url):
    settings = make_settings(database_url=sqlite_url)
    async with running_app(settings, workers=False) as (_, base_url):
        async with httpx.AsyncClient(base_url=base_url) as http:
            missing = await http.get("/api/events")
            wrong = await http.get("/api/events", params={"access_token": "nope"})

    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")


async def test_every_replica_pushes_events_made_on_another(postgres, kafka):
    """Two servers on one database and one broker: a change made through one reaches a
    stream opened on the other (each process reads the topics as a broadcast)."""
    settings = make_settings(database_url=postgres.new_database_url(), **kafka.settings())
    async with (
        running_app(settings, workers=True) as (runtime, first),
        running_app(settings, workers=False) as (_, second),
    ):
        alice = await make_account(runtime.services, "alice")
        async with live_events(second, alice.token) as stream, httpx.AsyncClient() as http:
            created = await http.post(
                f"{first}/api/tasks", json={"title": "Water plants"}, headers=alice.headers
            )

            event = await stream.next("task", within=30)

    assert event == {"type": "task.created", "task": created.json()}


async def test_a_revoked_token_ends_its_stream(sqlite_url):
    settings = make_settings(database_url=sqlite_url)
    async with running_app(settings, workers=False) as (runtime, base_url):
        services = runtime.services
        runtime.live.keepalive_seconds = 0.1
        alice = await make_account(services, "alice")
        async with live_events(base_url, alice.token) as stream:
            await asyncio.sleep(0.3)  # a few keep-alives while the token is good
            assert not stream.ended.is_set()

            await services.users.revoke_token(prefix=alice.token[:12])

            await stream.end(within=2)


async def test_a_busy_stream_ends_too_when_its_token_is_revoked(sqlite_url):
    """Events arriving faster than the keep-alive interval do not keep a revoked stream open."""
    settings = make_settings(database_url=sqlite_url, scheduler_interval_seconds=0.2)
    async with running_app(settings) as (runtime, base_url):
        services = runtime.services
        runtime.live.keepalive_seconds = 0.3
        alice = await make_account(services, "alice")
        async with live_events(base_url, alice.token) as stream:

            async def keep_busy() -> None:
                for n in itertools.count():
                    await services.tasks.create_task(user=alice.user, data=TaskCreate(title=f"{n}"))
                    await asyncio.sleep(0.05)

            async with asyncio.TaskGroup() as group:
                busy = group.create_task(keep_busy())
                await stream.next("task")
                await services.users.revoke_token(prefix=alice.token[:12])
                await stream.end(within=3)
                busy.cancel()


async def test_project_changes_and_comments_are_pushed_live(sqlite_url):
    settings = make_settings(database_url=sqlite_url)
    async with running_app(settings, workers=True) as (runtime, base_url):
        alice = await make_account(runtime.services, "alice")
        async with live_events(base_url, alice.token) as stream, httpx.AsyncClient() as http:
            created = await http.post(
                f"{base_url}/api/projects", json={"name": "Errands"}, headers=alice.headers
            )
            project_event = await stream.next("project")
            while project_event["project"]["name"] != "Errands":  # the Inbox came first
                project_event = await stream.next("project")
            task = await http.post(
                f"{base_url}/api/tasks", json={"title": "Milk"}, headers=alice.headers
            )
            await http.post(
                f"{base_url}/api/tasks/{task.json()['id']}/comments",
                json={"text": "Oat"},
                headers=alice.headers,
            )
            comment_event = await stream.next("comment")

    assert project_event == {"type": "project.created", "project": created.json()}
    assert comment_event["type"] == "comment.added"
    assert comment_event["comment"]["text"] == "Oat"
