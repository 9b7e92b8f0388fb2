"""The agent's MCP client against the real task server: over streamable HTTP and stdio,
acting as whoever the connection says, never as anything the model writes."""

from __future__ import annotations

import json

import pytest

from agent.mcp_client import connect_stdio, connect_streamable_http
from server.app import create_app
from server.config import Settings
from server.tasks.models import TaskCreate
from testkit.servers import serve_app
from tests.conftest import make_settings
from tests.utils.mcp import TOOLS, stdio_params


@pytest.fixture
def settings(sqlite_url) -> Settings:
    return make_settings(database_url=sqlite_url)


async def test_over_streamable_http_the_token_decides_the_user(
    runtime, settings, services, alice, bob
):
    bobs = await services.tasks.create_task(user=bob.user, data=TaskCreate(title="Bob's"))
    app = create_app(runtime)
    async with serve_app(app) as url:
        async with connect_streamable_http(f"{url}/mcp", token=alice.token) as tools:
            assert set(tools.tools) == TOOLS
            added = await tools.call("add_task", json.dumps({"title": "From the agent"}))
            stolen = await tools.call("complete_task", json.dumps({"task_id": bobs.id}))

    assert added.ok and added.result["title"] == "From the agent"
    assert not stolen.ok and f"task {bobs.id} not found" in stolen.error
    mine = await services.tasks.get_task(user=alice.user, task_id=added.result["id"])
    assert mine.title == "From the agent"
    assert not (await services.tasks.get_task(user=bob.user, task_id=bobs.id)).completed


async def test_over_stdio_the_user_comes_from_the_command_line(settings, services, alice):
    await services.tasks.create_task(user=alice.user, data=TaskCreate(title="Alice's"))
    async with connect_stdio(stdio_params(settings.database_url, "alice")) as tools:
        listed = await tools.call("list_tasks", "{}")
        bad = await tools.call("add_task", json.dumps({"title": ""}))

    assert [t["title"] for t in listed.result["tasks"]] == ["Alice's"]
    assert not bad.ok and "title" in bad.error
    # Definitions the provider accepts: a function per tool with its JSON schema.
    assert all(d["function"]["parameters"]["type"] == "object" for d in tools.definitions)
