"""Batch progress and the confirmation asked before big deletes (elicitation), through real
MCP client sessions: in memory, over stdio (an older revision: the question comes mid-call)
and over HTTP (2026-07-28: the question comes back as an input-required result)."""

from __future__ import annotations

import pytest
from mcp_types import ElicitResult

from server.projects.models import ProjectCreate
from server.tasks.models import NewTask, TaskCreate, TaskQuery
from tests.utils.mcp import call, connect

TRANSPORTS = ["memory", "stdio", "http"]


@pytest.fixture
def database_url(sqlite_url) -> str:
    """The MCP layer is what is tested here: one engine is enough."""
    return sqlite_url


class Answers:
    """An elicitation callback that answers every question the same way, and keeps them."""

    def __init__(self, action: str, confirm: bool = True) -> None:
        self.action = action
        self.confirm = confirm
        self.questions: list[str] = []

    async def __call__(self, context, params) -> ElicitResult:
        self.questions.append(params.message)
        content = {"confirm": self.confirm} if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)


async def open_tasks(services, account) -> set[str]:
    page = await services.tasks.list_tasks(user=account.user, query=TaskQuery(limit=200))
    return {t.title for t in page.tasks}


async def seed(services, account, count: int) -> list[int]:
    items = [NewTask(title=f"Chore {n}") for n in range(count)]
    return [t.id for t in await services.tasks.create_tasks(user=account.user, items=items)]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_batch_progress_arrives_in_order(transport, runtime, settings, services, alice):
    seen: list[tuple[float, float | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    async with connect(transport, runtime, settings, alice) as client:
        tasks = [{"title": f"Step {n}"} for n in range(7)]
        added = await client.call_tool("add_tasks", {"tasks": tasks}, progress_callback=progress)
        quiet = await client.call_tool("complete_tasks", {"task_ids": [1]})

    assert not added.is_error and not quiet.is_error
    assert seen == [(n, 8) for n in range(1, 9)]  # each item, then the commit


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_declined_deletion_changes_nothing(transport, runtime, settings, services, alice):
    project = await services.projects.create_project(
        user=alice.user, data=ProjectCreate(name="Garden")
    )
    await services.tasks.create_task(
        user=alice.user, data=TaskCreate(title="Weed the beds", project=project.id)
    )
    ids = await seed(services, alice, 6)
    before = await open_tasks(services, alice)
    answers = Answers("decline")

    async with connect(transport, runtime, settings, alice, elicitation_callback=answers) as c:
        project_result = await c.call_tool("delete_project", {"project": "Garden"})
        tasks_result = await c.call_tool("delete_tasks", {"task_ids": ids})

    assert "Not deleted: you declined" in project_result.content[0].text
    assert "Nothing was changed" in tasks_result.content[0].text
    assert tasks_result.structured_content == {"tasks": []}
    assert await open_tasks(services, alice) == before
    still = await services.projects.get_project(user=alice.user, ref="Garden")
    assert still.deleted_at is None
    assert answers.questions == [
        "Delete the project 'Garden' with its 1 open task(s)? restore_project can bring them back.",
        "Delete 6 tasks (and their subtasks)? restore_task can bring each back.",
    ]


@pytest.mark.parametrize("transport", ["memory", "http"])
async def test_a_confirmed_deletion_goes_ahead_and_small_ones_are_not_asked(
    transport, runtime, settings, services, alice
):
    ids = await seed(services, alice, 11)
    answers = Answers("accept")

    async with connect(transport, runtime, settings, alice, elicitation_callback=answers) as c:
        few = await call(c, "delete_tasks", task_ids=ids[:5])
        many = await call(c, "delete_tasks", task_ids=ids[5:])

    assert len(few["tasks"]) == 5 and len(many["tasks"]) == 6
    assert answers.questions == [
        "Delete 6 tasks (and their subtasks)? restore_task can bring each back."
    ]
    assert await open_tasks(services, alice) == set()


@pytest.mark.parametrize("transport", ["memory", "http"])
async def test_an_unticked_confirmation_deletes_nothing(
    transport, runtime, settings, services, alice
):
    ids = await seed(services, alice, 6)

    answers = Answers("accept", confirm=False)
    async with connect(transport, runtime, settings, alice, elicitation_callback=answers) as c:
        result = await c.call_tool("delete_tasks", {"task_ids": ids})

    assert "Not deleted" in result.content[0].text
    assert len(await open_tasks(services, alice)) == 6


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_client_without_elicitation_deletes_as_before(
    transport, runtime, settings, services, alice
):
    await services.projects.create_project(user=alice.user, data=ProjectCreate(name="Garden"))
    ids = await seed(services, alice, 8)

    async with connect(transport, runtime, settings, alice) as client:
        gone = await call(client, "delete_tasks", task_ids=ids)
        project = await call(client, "delete_project", project="Garden")

    assert len(gone["tasks"]) == 8
    assert project["project"]["deleted_at"] is not None
    assert await open_tasks(services, alice) == set()
