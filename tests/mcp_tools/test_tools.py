"""The MCP tools through real client sessions: in memory, over stdio and over HTTP."""

from __future__ import annotations

import httpx
from mcp import Client

from mcp_tools.session import in_process_client
from server.app import create_app
from testkit.servers import free_port, serve_app
from tests.utils.mcp import (
    TOOLS,
    call,
    call_error,
    exercise_every_tool,
    http_client,
    stdio_params,
)


async def test_every_tool_works_in_memory(runtime, services, alice):
    async with in_process_client(runtime.mcp, alice.user) as client:
        await exercise_every_tool(client)


async def test_every_tool_works_over_stdio(services, settings, alice):
    async with Client(stdio_params(settings.database_url, "alice")) as client:
        await exercise_every_tool(client)
    # The stdio process wrote to the same database, as alice.
    page = await services.tasks.list_tasks(user=alice.user, query=_all())
    assert {t.title for t in page.tasks} == {"Pay rent", "Call mum", "Big shop", "Eggs"}


async def test_every_tool_works_over_http_with_a_bearer_token(runtime, settings, services, alice):
    app = create_app(runtime)
    async with serve_app(app) as base_url, http_client(base_url, alice.token) as client:
        await exercise_every_tool(client)


async def test_tools_describe_themselves_for_a_model(runtime, services, alice):
    async with in_process_client(runtime.mcp, alice.user) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and tool.output_schema, tool.name
        assert "user_id" not in tool.input_schema["properties"], tool.name
    for name in ("list_tasks", "get_task", "list_notifications"):
        assert tools[name].annotations.read_only_hint is True
    assert tools["delete_task"].annotations.destructive_hint is True
    assert "ISO 8601" in tools["add_task"].input_schema["properties"]["due"]["description"]


async def test_bad_arguments_give_errors_naming_the_field(runtime, services, alice):
    async with in_process_client(runtime.mcp, alice.user) as client:
        assert "title" in await call_error(client, "add_task", title="")
        assert "title" in await call_error(client, "add_task", title="x" * 501)
        assert "tags" in await call_error(client, "add_task", title="a", tags=["t"] * 21)
        assert "due" in await call_error(client, "add_task", title="a", due="when pigs fly")
        assert "recurrence" in await call_error(client, "add_task", title="a", recurrence="often")
        assert "priority" in await call_error(client, "add_task", title="a", priority="urgent")
        assert "limit" in await call_error(client, "list_tasks", limit=500)
        assert "cursor" in await call_error(client, "list_tasks", cursor="garbage")
        nothing = await call_error(client, "update_task", task_id=4242)
        assert "arguments: give at least one field to change" in nothing
        assert "task 4242 not found" in await call_error(client, "complete_task", task_id=4242)
        # Nothing was stored by any of the failed calls.
        assert (await call(client, "list_tasks", status="all"))["tasks"] == []


async def test_unknown_arguments_are_tool_errors_naming_them(runtime, services, alice, bob):
    async with in_process_client(runtime.mcp, alice.user) as client:
        extra_user = await call_error(client, "add_task", title="Mine", user_id=bob.user.id)
        misspelt = await call_error(client, "update_task", task_id=1, titel="Typo")
        two = await call_error(client, "list_tasks", owner="bob", all_users=True)
        tasks = await call(client, "list_tasks", status="all")

    assert extra_user.startswith("user_id: not an argument of add_task"), extra_user
    assert "title" in extra_user  # it says which arguments there are
    assert misspelt.startswith("titel: not an argument of update_task")
    assert two.startswith("all_users, owner: not an argument of list_tasks")
    assert tasks["tasks"] == []  # nothing was added, for alice or for bob
    bobs = await services.tasks.list_tasks(user=bob.user, query=_all())
    assert bobs.tasks == []


async def test_an_idempotency_key_names_one_request_across_tools_and_rest(
    runtime, services, alice, client
):
    async with in_process_client(runtime.mcp, alice.user) as mcp:
        first = await call(mcp, "add_task", title="Call mum", idempotency_key="k-9")
        again = await call(mcp, "add_task", title="Call mum", idempotency_key="k-9")
        other = await call_error(mcp, "add_task", title="Call dad", idempotency_key="k-9")
    rest = await client.post(
        "/api/tasks",
        json={"title": "Call mum"},
        headers={**alice.headers, "Idempotency-Key": "k-9"},
    )

    assert again == first and rest.json() == first
    assert "idempotency_key: was already used for a different request" in other
    assert (await services.tasks.list_tasks(user=alice.user, query=_all())).tasks[0].id == first[
        "id"
    ]
    assert len((await services.tasks.list_tasks(user=alice.user, query=_all())).tasks) == 1


async def test_other_users_tasks_are_not_found_through_any_tool(runtime, services, alice, bob):
    mcp = runtime.mcp
    async with in_process_client(mcp, alice.user) as client:
        task = await call(client, "add_task", title="Alice's secret")
    task_id = task["id"]
    async with in_process_client(mcp, bob.user) as client:
        for name in ("get_task", "complete_task", "reopen_task", "delete_task", "restore_task"):
            error = await call_error(client, name, task_id=task_id)
            assert error.endswith(f"task {task_id} not found"), (name, error)
        error = await call_error(client, "update_task", task_id=task_id, title="mine now")
        assert error.endswith(f"task {task_id} not found")
        assert (await call(client, "list_tasks", status="all"))["tasks"] == []
        assert (await call(client, "list_tasks", query="secret", status="all"))["tasks"] == []
    unchanged = await services.tasks.get_task(user=alice.user, task_id=task_id)
    assert unchanged.title == "Alice's secret" and not unchanged.completed


async def test_http_without_a_valid_token_is_401_with_www_authenticate(runtime, settings, services):
    app = create_app(runtime)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    async with serve_app(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        for headers in ({}, {"Authorization": "Bearer tda_wrong"}):
            response = await http.post("/mcp", json=body, headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")


async def test_http_client_keeps_working_across_a_server_restart(
    runtime, settings, services, alice
):
    port = free_port()
    first = serve_app(create_app(runtime), port=port)
    base_url = await first.__aenter__()
    async with http_client(base_url, alice.token) as client:
        await call(client, "add_task", title="before restart")
        await first.__aexit__(None, None, None)  # the server stops; the client stays open
        restarted = create_app(runtime)
        async with serve_app(restarted, port=port):
            titles = [t["title"] for t in (await call(client, "list_tasks"))["tasks"]]
            assert titles == ["before restart"]
            await call(client, "add_task", title="after restart")


def _all():
    from server.tasks.models import Status, TaskQuery

    return TaskQuery(status=Status.all)
