"""Running the app in tests: its lifespan, as a server runs it, and an HTTP client on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from server.config import Settings
from server.runtime import open_runtime
from server.services import Services


def make_settings(**overrides: object) -> Settings:
    """Settings from what a test passes only: never the machine's environment or .env."""
    return Settings(_env_file=None, **overrides)


@asynccontextmanager
async def services_on(database_url: str, **overrides: object) -> AsyncIterator[Services]:
    """The services of a data-only runtime on `database_url` (migrated; no bus)."""
    settings = make_settings(database_url=database_url, **overrides)
    async with open_runtime(settings, events=False) as runtime:
        yield runtime.services


@asynccontextmanager
async def running(app: ASGIApp) -> AsyncIterator[ASGIApp]:
    """Run `app`'s lifespan as an ASGI server does; yields the app as requests must reach it
    (each request's scope carrying a copy of the lifespan's state, like uvicorn's).

    The lifespan runs in a task of its own: a fixture is set up and torn down in different
    tasks, and the lifespan's task groups (the MCP session manager's) must exit in the task
    that entered them.
    """
    state: dict[str, Any] = {}
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}

    lifespan = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = asyncio.create_task(outbox.get())
    await asyncio.wait([lifespan, started], return_when=asyncio.FIRST_COMPLETED)
    if not started.done():
        started.cancel()
        lifespan.result()  # the lifespan crashed: raise its error here
    if started.result()["type"] != "lifespan.startup.complete":
        await lifespan
        raise RuntimeError(f"start-up failed: {started.result().get('message')}")

    async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "state": dict(state)}
        await app(scope, receive, send)

    try:
        yield with_state
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await lifespan


@asynccontextmanager
async def http_client(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on `app` in process, its lifespan running."""
    async with running(app) as served:
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
