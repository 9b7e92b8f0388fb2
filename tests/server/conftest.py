"""A shared app per database engine, for tables of requests that each leave no trace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from server.app import create_app
from server.runtime import Runtime, open_runtime
from server.services import Services
from tests.conftest import Account, make_account, make_settings
from tests.utils.app import http_client


@dataclass
class SharedApi:
    client: httpx.AsyncClient
    services: Services
    runtime: Runtime

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
    async with open_runtime(settings) as runtime, http_client(create_app(runtime)) as client:
        yield SharedApi(client=client, services=runtime.services, runtime=runtime)
