"""Helpers for MCP tests: connect over each transport, and one scenario over every tool."""

from __future__ import annotations

import json
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from mcp_tools.session import in_process_client
from server.app import create_app
from testkit.servers import serve_app

BIN = Path(sys.executable).parent

# The SPEC's tools: names are the contract.
TOOLS = {
    "add_task",
    "list_tasks",
    "get_task",
    "update_task",
    "complete_task",
    "reopen_task",
    "delete_task",
    "restore_task",
    "list_notifications",
    "mark_notifications_read",
    "list_projects",
    "add_project",
    "update_project",
    "delete_project",
    "restore_project",
    "add_tasks",
    "update_tasks",
    "complete_tasks",
    "delete_tasks",
    "add_comment",
    "list_comments",
    "list_activity",
    "whats_next",
}


@asynccontextmanager
async def http_client(base_url: str, token: str, **options: Any):
    """An MCP client over streamable HTTP with a bearer token (`options` go to `Client`)."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as hc:
        transport = streamable_http_client(f"{base_url}/mcp", http_client=hc)
        async with Client(transport, **options) as client:
            yield client


@asynccontextmanager
async def connect(transport: str, runtime, settings, account, **options):
    """A client acting as `account` in memory, over stdio (the older revision, with its
    mid-call requests) or over HTTP (a server on a free port), on `runtime`."""
    if transport == "memory":
        async with in_process_client(runtime.mcp, account.user, **options) as client:
            yield client
    elif transport == "stdio":
        # The older revision over a duplex connection: elicitation as a request mid-call.
        params = stdio_params(settings.database_url, account.user.name)
        async with Client(params, mode="legacy", **options) as client:
            yield client
    else:
        async with (
            serve_app(create_app(runtime)) as base_url,
            http_client(base_url, account.token, **options) as client,
        ):
            yield client


def stdio_params(database_url: str, user: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env["DATABASE_URL"] = database_url
    return StdioServerParameters(
        command=str(BIN / "todo-agent"), args=["mcp", "--user", user], env=env
    )


def rpc_answer(response: Any) -> dict[str, Any]:
    """The JSON-RPC answer of a raw POST to /mcp: a JSON body, or the last answer of an SSE
    stream (how older-revision requests are answered)."""
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        return response.json()
    frames = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
    answers = [m for m in map(json.loads, frames) if "result" in m or "error" in m]
    return answers[-1]


async def call(client: Client, name: str, /, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; returns its structured content."""
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content[0].text
    assert result.content and result.content[0].text  # the short text for the model
    return result.structured_content


async def call_error(client: Client, name: str, /, **arguments: Any) -> str:
    """Call a tool that must fail; returns its error text."""
    result = await client.call_tool(name, arguments)
    assert result.is_error, f"{name}{arguments} unexpectedly succeeded"
    return result.content[0].text


async def exercise_every_tool(client: Client) -> None:
    """A user's session over every tool, asserting what the user would see."""
    added = await call(
        client,
        "add_task",
        title="Pay rent",
        due="2030-01-05T09:00",
        priority="high",
        tags=["home"],
        recurrence="monthly",
    )
    assert added["title"] == "Pay rent" and added["recurrence"] == "FREQ=MONTHLY"
    assert added["due"].startswith("2030-01-05")  # resolved absolute time
    other = await call(client, "add_task", title="Call mum", idempotency_key="k-1")
    again = await call(client, "add_task", title="Call mum", idempotency_key="k-1")
    assert again["id"] == other["id"]

    page = await call(client, "list_tasks", sort="priority")
    assert [t["title"] for t in page["tasks"]] == ["Pay rent", "Call mum"]
    assert page["next_cursor"] is None
    assert (await call(client, "list_tasks", tag="home"))["tasks"][0]["id"] == added["id"]
    assert (await call(client, "get_task", task_id=other["id"]))["title"] == "Call mum"

    moved = await call(client, "update_task", task_id=added["id"], due="2030-02-01T10:00")
    assert moved["due"].startswith("2030-02-01") and moved["recurrence"] == "FREQ=MONTHLY"

    done = await call(client, "complete_task", task_id=added["id"])
    assert done["task"]["completed"] is True
    assert done["next_occurrence"]["due"].startswith("2030-03-01")
    assert (await call(client, "reopen_task", task_id=added["id"]))["completed"] is False

    deleted = await call(client, "delete_task", task_id=other["id"])
    assert deleted["deleted_at"] is not None
    titles = [t["title"] for t in (await call(client, "list_tasks", status="all"))["tasks"]]
    assert "Call mum" not in titles
    assert (await call(client, "restore_task", task_id=other["id"]))["deleted_at"] is None

    assert (await call(client, "list_notifications"))["notifications"] == []
    assert (await call(client, "mark_notifications_read"))["marked"] == 0
    await _exercise_projects_and_batches(client)


async def _exercise_projects_and_batches(client: Client) -> None:
    """Projects, subtasks, reminders, batch tools, comments, activity and what next."""
    inbox = (await call(client, "list_projects"))["projects"][0]
    assert (inbox["name"], inbox["inbox"]) == ("Inbox", True)
    errands = await call(client, "add_project", name="Errands", color="#e05d44")
    renamed = await call(client, "update_project", project="errands", name="Chores")
    assert (renamed["id"], renamed["name"]) == (errands["id"], "Chores")

    parent = await call(
        client,
        "add_task",
        title="Big shop",
        project="Chores",
        due="2030-03-01T10:00",
        reminders=[{"before_minutes": 60}, {"at": "2030-02-28T18:00"}],
    )
    assert parent["project_id"] == errands["id"] and len(parent["reminders"]) == 2
    batch = await call(
        client,
        "add_tasks",
        tasks=[{"title": "Eggs", "parent_id": parent["id"]}, {"title": "Bread"}],
    )
    eggs, bread = batch["tasks"]
    assert eggs["project_id"] == errands["id"] and bread["project_id"] == inbox["id"]
    moved = await call(
        client,
        "update_tasks",
        updates=[{"task_id": bread["id"], "project": "Chores", "due": "2030-03-01T09:00"}],
    )
    assert moved["tasks"][0]["project_id"] == errands["id"]
    listed = await call(client, "list_tasks", project="Chores")
    assert {t["title"]: t["open_subtasks"] for t in listed["tasks"]} == {
        "Bread": 0,
        "Big shop": 1,
        "Eggs": 0,
    }
    assert (await call(client, "list_tasks", parent_id=parent["id"]))["tasks"][0]["id"] == eggs[
        "id"
    ]

    comment = await call(client, "add_comment", task_id=parent["id"], text="Bring bags")
    listed_comments = (await call(client, "list_comments", task_id=parent["id"]))["comments"]
    assert listed_comments == [comment]
    ranked = (await call(client, "whats_next", limit=10))["tasks"]
    assert ranked and all(item["reasons"] for item in ranked)

    done = await call(client, "complete_tasks", task_ids=[parent["id"]])
    assert done["tasks"][0]["completed"] and done["next_occurrences"] == []
    assert (await call(client, "get_task", task_id=eggs["id"]))["completed"] is True
    gone = await call(client, "delete_tasks", task_ids=[bread["id"]])
    assert gone["tasks"][0]["deleted_at"] is not None

    deleted = await call(client, "delete_project", project=errands["id"])
    assert deleted["project"]["deleted_at"] is not None
    assert set(deleted["task_ids"]) == {parent["id"], eggs["id"]}
    restored = await call(client, "restore_project", project="Chores")
    assert set(restored["task_ids"]) == {parent["id"], eggs["id"]}
    assert (await call(client, "get_task", task_id=bread["id"]))["deleted_at"] is not None

    activity = await call(client, "list_activity", project=errands["id"], limit=200)
    types = {entry["type"] for entry in activity["events"]}
    assert {"project.created", "project.deleted", "project.restored"} <= types
