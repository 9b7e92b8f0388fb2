"""Projects, subtasks, reminders, batches and comments through real MCP client sessions: bad
arguments are tool errors naming the item and the field, and change nothing; another
user's things are "not found"."""

from __future__ import annotations

from mcp_tools.session import in_process_client
from tests.utils.mcp import call, call_error


async def everything(client) -> tuple[list, list]:
    tasks = (await call(client, "list_tasks", status="all", limit=200))["tasks"]
    projects = (await call(client, "list_projects", include_archived=True))["projects"]
    return tasks, projects


async def test_bad_batches_name_the_item_and_the_field_and_write_nothing(runtime, alice):
    async with in_process_client(runtime.mcp, alice.user) as client:
        task = await call(client, "add_task", title="Existing")
        before = await everything(client)

        errors = [
            await call_error(client, "add_tasks", tasks=[{"title": f"t{i}"} for i in range(51)]),
            await call_error(client, "add_tasks", tasks=[]),
            await call_error(
                client, "add_tasks", tasks=[{"title": "ok"}, {"title": "x", "due": "never ever"}]
            ),
            await call_error(client, "add_tasks", tasks=[{"title": "ok"}, {"title": ""}]),
            await call_error(client, "add_tasks", tasks=[{"title": "x", "colour": "red"}]),
            await call_error(client, "add_tasks", tasks=[{"title": "x", "project": "Nowhere"}]),
            await call_error(
                client,
                "update_tasks",
                updates=[{"task_id": task["id"], "title": "New"}, {"task_id": 99, "title": "x"}],
            ),
            await call_error(
                client, "update_tasks", updates=[{"task_id": task["id"], "priority": "urgent"}]
            ),
            await call_error(client, "complete_tasks", task_ids=[task["id"], 4242]),
            await call_error(client, "delete_tasks", task_ids=[task["id"], 4242]),
        ]

        assert "tasks" in errors[0] and "50" in errors[0]
        assert "tasks" in errors[1]
        assert "tasks[1].due: could not understand 'never ever'" in errors[2]
        assert "tasks[1].title:" in errors[3]
        assert "tasks[0].colour: is not a known field" in errors[4]
        assert (
            "tasks[0].project: no project named 'Nowhere'; the projects are: 'Inbox'" in errors[5]
        )
        assert "updates[1]: task 99 not found" in errors[6]
        assert "updates[0].priority:" in errors[7]
        assert "task_ids[1]: task 4242 not found" in errors[8]
        assert "task_ids[1]: task 4242 not found" in errors[9]
        assert await everything(client) == before


async def test_bad_projects_subtasks_reminders_and_comments_change_nothing(runtime, alice):
    async with in_process_client(runtime.mcp, alice.user) as client:
        await call(client, "add_project", name="Work")
        chain = [await call(client, "add_task", title="Level 1", project="work")]
        for level in (2, 3, 4):
            chain.append(
                await call(client, "add_task", title=f"Level {level}", parent_id=chain[-1]["id"])
            )
        loose = await call(client, "add_task", title="Loose")
        before = await everything(client)

        assert "already exists" in await call_error(client, "add_project", name="WORK")
        assert "name" in await call_error(client, "add_project", name="")
        assert "color" in await call_error(client, "add_project", name="Red", color="red")
        missing = await call_error(client, "update_project", project="Holidays", name="x")
        assert "no project named 'Holidays'; the projects are: 'Inbox', 'Work'" in missing
        assert "Inbox cannot be deleted" in await call_error(client, "delete_project", project=1)
        assert "archived" in await call_error(
            client, "update_project", project="Inbox", archived=True
        )
        deepest, top = chain[-1]["id"], chain[0]["id"]
        fifth = await call_error(client, "add_task", title="Level 5", parent_id=deepest)
        assert "parent_id: subtasks nest at most 4 levels" in fifth
        cycle = await call_error(client, "update_task", task_id=top, parent_id=deepest)
        assert "parent_id:" in cycle and "cycle" in cycle
        elsewhere = await call_error(
            client, "update_task", task_id=loose["id"], parent_id=top, project="Inbox"
        )
        assert "project: a subtask stays in its parent's project" in elsewhere
        sixth = await call_error(
            client, "add_task", title="x", reminders=[{"before_minutes": n} for n in range(1, 7)]
        )
        assert "reminders" in sixth
        past = await call_error(client, "add_task", title="x", reminders=[{"at": "2020-01-01"}])
        assert "reminders[0].at: must be in the future" in past
        long = await call_error(client, "add_comment", task_id=top, text="x" * 10_001)
        assert "text" in long
        assert await everything(client) == before
        assert (await call(client, "list_comments", task_id=top))["comments"] == []


async def test_another_users_projects_tasks_and_comments_are_not_found(runtime, alice, bob):
    async with in_process_client(runtime.mcp, alice.user) as client:
        project = await call(client, "add_project", name="Secret plans")
        task = await call(client, "add_task", title="Secret", project=project["id"])
        await call(client, "add_comment", task_id=task["id"], text="hush")
    pid, tid = project["id"], task["id"]

    async with in_process_client(runtime.mcp, bob.user) as client:
        for name, arguments in (
            ("update_project", {"project": pid, "name": "Mine"}),
            ("delete_project", {"project": pid}),
            ("restore_project", {"project": pid}),
            ("list_activity", {"project": pid}),
        ):
            error = await call_error(client, name, **arguments)
            assert error.endswith(f"project {pid} not found"), (name, error)
        assert "no project named 'Secret plans'" in await call_error(
            client, "list_tasks", project="Secret plans"
        )
        assert f"project: project {pid} not found" in await call_error(
            client, "add_task", title="x", project=pid
        )
        for name, arguments in (
            ("list_comments", {"task_id": tid}),
            ("add_comment", {"task_id": tid, "text": "hi"}),
            ("list_activity", {"task_id": tid}),
        ):
            error = await call_error(client, name, **arguments)
            assert error.endswith(f"task {tid} not found"), (name, error)
        assert f"parent_id: task {tid} not found" in await call_error(
            client, "add_task", title="x", parent_id=tid
        )
        assert f"updates[0]: task {tid} not found" in await call_error(
            client, "update_tasks", updates=[{"task_id": tid, "project": "Inbox"}]
        )
        assert [p["name"] for p in (await call(client, "list_projects"))["projects"]] == ["Inbox"]

    async with in_process_client(runtime.mcp, alice.user) as client:
        comments = (await call(client, "list_comments", task_id=tid))["comments"]
        assert [c["text"] for c in comments] == ["hush"]
        assert (await call(client, "get_task", task_id=tid))["project_id"] == pid


async def test_the_new_tools_describe_themselves_for_a_model(runtime, alice):
    async with in_process_client(runtime.mcp, alice.user) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        instructions = client.instructions

    for name in ("list_projects", "list_comments", "list_activity", "whats_next"):
        assert tools[name].annotations.read_only_hint is True, name
    for name in ("delete_project", "delete_tasks"):
        assert tools[name].annotations.destructive_hint is True, name
    item = tools["add_tasks"].input_schema["properties"]["tasks"]
    assert item["maxItems"] == 50 and "title" in item["items"]["properties"]
    assert "$ref" not in str(item)
    assert (
        "parent_id"
        in tools["update_tasks"].input_schema["properties"]["updates"]["items"]["properties"]
    )
    assert "add_tasks" in instructions and "whats_next" in instructions
