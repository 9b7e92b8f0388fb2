"""When the database goes away, every edge answers "unavailable", never a crash; and only a
database failure is reported as one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from mcp_tools.session import in_process_client
from server.app import create_app
from server.errors import Conflict
from server.runtime import Runtime, open_runtime
from testkit.servers import Postgres
from tests.conftest import Account, make_account, make_settings
from tests.utils.app import http_client


@dataclass
class Outage:
    """A running app on a PostgreSQL server of its own, which `stop` takes down for real."""

    runtime: Runtime
    client: httpx.AsyncClient
    alice: Account
    server: Postgres

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
async def outage(tmp_path) -> AsyncIterator[Outage]:
    server = Postgres(str(tmp_path / "pg"), durable=False)
    try:
        settings = make_settings(database_url=server.new_database_url())
        async with open_runtime(settings) as runtime, http_client(create_app(runtime)) as client:
            alice = await make_account(runtime.services, "alice")
            yield Outage(runtime=runtime, client=client, alice=alice, server=server)
    finally:
        server.stop()


async def test_rest_answers_503_json_when_the_database_is_unreachable(outage):
    client, headers = outage.client, outage.alice.headers
    await client.get("/api/me", headers=headers)  # the token is verified (and cached)
    outage.stop()

    for method, path, body in (
        ("GET", "/api/tasks", None),
        ("POST", "/api/tasks", {"title": "Pay rent"}),
        ("GET", "/api/notifications", None),
    ):
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 503, (path, response.text)
        assert response.json()["error"]["code"] == "unavailable"
        assert response.headers["retry-after"]
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unavailable")


async def test_tools_say_the_database_is_unavailable(outage):
    outage.stop()
    async with in_process_client(outage.runtime.mcp, outage.alice.user) as mcp:
        result = await mcp.call_tool("list_tasks", {})

    assert result.is_error
    assert "database is unavailable" in result.content[0].text


async def test_a_file_system_error_is_not_reported_as_a_database_outage(client):
    response = await client.get("/static/" + "x" * 5000)

    assert response.status_code in (404, 414)
    assert response.json()["error"]["code"] != "unavailable"


async def test_a_user_created_twice_at_once_is_one_user_and_one_conflict(services):
    results = await asyncio.gather(
        *(services.users.create_user(name="newcomer") for _ in range(4)), return_exceptions=True
    )

    created = [r for r in results if not isinstance(r, BaseException)]
    assert len(created) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
