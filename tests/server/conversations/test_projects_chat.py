"""The agent with projects, batch tools and subtasks: the scripted provider over HTTP, the
real MCP tools, the database."""

from __future__ import annotations

import json

from server.events.models import OutboxEvent
from server.tasks.models import Status, TaskQuery
from testkit.fake_llm import Reply, ToolCall
from tests.utils.chat import chat, names
from tests.utils.events import rows
from tests.utils.factories import make_project, make_task


async def test_the_agent_moves_tasks_between_projects_with_one_batch_call(
    client, services, alice, fake_llm
):
    errands = await make_project(services, alice.user, "Errands")
    milk = await make_task(services, alice.user, title="Buy milk")
    stamps = await make_task(services, alice.user, title="Buy stamps")
    await make_task(services, alice.user, title="Call mum")
    moves = [{"task_id": t.id, "project": "errands"} for t in (milk, stamps)]
    fake_llm.script(
        Reply(tool_calls=[ToolCall("update_tasks", {"updates": moves})]),
        "Moved **Buy milk** and **Buy stamps** to Errands.",
    )
    before = len(await rows(services, OutboxEvent))

    events = await chat(client, alice.headers, "move the shopping to my errands list")

    calls = [data for name, data in events if name == "tool_call"]
    results = [data for name, data in events if name == "tool_result"]
    assert [c["name"] for c in calls] == ["update_tasks"]
    assert results[0]["ok"] is True, results[0]
    assert [t["project_id"] for t in results[0]["result"]["tasks"]] == [errands.id] * 2
    assert names(events)[-1] == "done"
    query = TaskQuery(status=Status.all, project="Errands")
    moved = await services.tasks.list_tasks(user=alice.user, query=query)
    assert sorted(t.title for t in moved.tasks) == ["Buy milk", "Buy stamps"]
    written = (await rows(services, OutboxEvent))[before:]
    assert sorted(e.envelope["subject"] for e in written) == sorted(
        f"task/{t.id}" for t in (milk, stamps)
    )
    assert "update_tasks" in fake_llm.requests[0].tool_names
    assert "batch" in fake_llm.requests[0].system_prompt


def subtasks_of_the_task_just_added(body: dict) -> Reply:
    """The model's second step: it reads the new task's id from the tool result."""
    added = json.loads(body["messages"][-1]["content"])
    return Reply(
        tool_calls=[
            ToolCall(
                "add_tasks",
                {
                    "tasks": [
                        {"title": title, "parent_id": added["id"]}
                        for title in ("Book flights", "Book a hotel", "Renew passport")
                    ]
                },
            )
        ]
    )


async def test_the_agent_creates_a_task_with_subtasks(client, services, alice, fake_llm):
    await make_project(services, alice.user, "Travel")
    fake_llm.script(
        Reply(tool_calls=[ToolCall("add_task", {"title": "Trip to Lisbon", "project": "Travel"})]),
        subtasks_of_the_task_just_added,
        "Added **Trip to Lisbon** with three subtasks.",
    )

    events = await chat(client, alice.headers, "plan my trip to lisbon: flights, hotel, passport")

    results = [data for name, data in events if name == "tool_result"]
    assert [(r["name"], r["ok"]) for r in results] == [("add_task", True), ("add_tasks", True)]
    parent = results[0]["result"]
    subtasks = await services.tasks.list_tasks(
        user=alice.user, query=TaskQuery(parent_id=parent["id"])
    )
    assert sorted(t.title for t in subtasks.tasks) == [
        "Book a hotel",
        "Book flights",
        "Renew passport",
    ]
    assert {t.project_id for t in subtasks.tasks} == {parent["project_id"]}
    read = await services.tasks.get_task(user=alice.user, task_id=parent["id"])
    assert read.open_subtasks == 3
