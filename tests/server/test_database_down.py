"""When the database goes away, every edge answers "unavailable", never a crash."""

from __future__ import annotations

import asyncio

import pytest

from mcp_tools.session import in_process_client
from server.db import Database
from server.errors import Conflict
from tests.utils.servers import free_port


async def unplug(services) -> None:
    """Point the running services at a PostgreSQL port where nothing listens."""
    dead = Database(f"postgresql+asyncpg://todo:secret@127.0.0.1:{free_port()}/todo")
    db = services.db
    await db.dispose()
    db.engine, db.sessions = dead.engine, dead.sessions
    db.write_engine, db.write_sessions = dead.write_engine, dead.write_sessions
    db.is_sqlite = False


async def test_rest_answers_503_json_when_the_database_is_unreachable(client, services, alice):
    await client.get("/api/me", headers=alice.headers)  # the token is verified (and cached)
    await unplug(services)

    for method, path, body in (
        ("GET", "/api/tasks", None),
        ("POST", "/api/tasks", {"title": "Pay rent"}),
        ("GET", "/api/notifications", None),
    ):
        response = await client.request(method, path, json=body, headers=alice.headers)
        assert response.status_code == 503, (path, response.text)
        assert response.json()["error"]["code"] == "unavailable"
        assert response.headers["retry-after"]
    assert (await client.get("/health/ready")).status_code == 503


async def test_tools_say_the_database_is_unavailable(app_mcp, services, alice):
    await unplug(services)
    async with in_process_client(app_mcp, alice.user) as mcp:
        result = await mcp.call_tool("list_tasks", {})

    assert result.is_error
    assert "database is unavailable" in result.content[0].text


@pytest.fixture
def app_mcp(services):
    from mcp_tools.server import create_mcp_server

    return create_mcp_server(services)


async def test_a_user_created_twice_at_once_is_one_user_and_one_conflict(services):
    results = await asyncio.gather(
        *(services.users.create_user(name="newcomer") for _ in range(4)), return_exceptions=True
    )

    created = [r for r in results if not isinstance(r, BaseException)]
    assert len(created) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
