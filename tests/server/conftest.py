"""A shared app per database engine, for tables of requests that each leave no trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from server.app import create_app
from server.services import Services, build_services
from tests.conftest import Account, make_account, make_settings


@dataclass
class SharedApi:
    client: httpx.AsyncClient
    services: Services

    async def account(self, name: str, timezone: str = "UTC") -> Account:
        return await make_account(self.services, name, timezone)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def shared_api(request, tmp_path_factory) -> AsyncIterator[SharedApi]:
    """One migrated database and app per engine for a whole module.

    For parametrized tables of requests (validation, auth, bad input) where a fresh database
    per row would only cost time; each row still asserts that nothing was stored. A module
    may set `SHARED_API_SETTINGS` (a dict) to configure its app.
    """
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('shared')}/todo.db"
    else:
        url = request.getfixturevalue("postgres").new_database_url()
    settings = make_settings(database_url=url, **getattr(request.module, "SHARED_API_SETTINGS", {}))
    services = build_services(settings)
    app = create_app(settings, workers=False, services=services)
    async with _running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield SharedApi(client=client, services=services)


@asynccontextmanager
async def _running(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan, held by a task of its own: a module-scoped fixture is set up and
    torn down in different tasks, and the lifespan's task groups must exit where they began."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stop.wait()

    holder = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({holder, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if holder.done():
        holder.result()  # start-up failed: raise its error here
    try:
        yield
    finally:
        stop.set()
        await holder
