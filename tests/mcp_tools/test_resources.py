"""Resources, prompts and completions through real MCP client sessions (in memory here; over
stdio and HTTP in test_transports.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, ResourceTemplateReference

from mcp_tools.session import in_process_client
from server.db import utcnow
from server.projects.models import ProjectCreate
from server.tasks.agenda import day_start, local_today
from server.tasks.models import NewTask, TaskCreate
from tests.conftest import make_account
from tests.utils.mcp import connect


async def read_json(client, uri: str) -> dict:
    result = await client.read_resource(uri)
    (content,) = result.contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)


async def add(services, account, title: str, **fields):
    data = TaskCreate(title=title, **fields)
    return await services.tasks.create_task(user=account.user, data=data)


async def seed_around_midnight(services, account) -> None:
    """Tasks just before and just after the user's own next midnight, and around them."""
    now = utcnow()
    midnight = day_start(
        local_today(account.user.timezone, now) + timedelta(days=1), account.user.timezone
    )
    await add(services, account, "Late tonight", due=midnight - timedelta(minutes=1))
    await add(services, account, "Just after midnight", due=midnight + timedelta(minutes=1))
    await add(services, account, "Forgotten", due=now - timedelta(days=2))
    await add(services, account, "In six days", due=midnight + timedelta(days=6, hours=12))
    await add(services, account, "In eight days", due=midnight + timedelta(days=8))
    await add(services, account, "Someday")
    done = await add(services, account, "Done already", due=midnight - timedelta(hours=1))
    await services.tasks.complete_task(user=account.user, task_id=done.id)


@pytest.mark.parametrize("timezone", ["Pacific/Kiritimati", "America/Los_Angeles"])
async def test_today_and_upcoming_follow_the_users_own_midnight(runtime, services, timezone):
    # UTC+14 and UTC-8: the user's midnight is far from UTC's on either side.
    account = await make_account(services, "kiri" if "Kiri" in timezone else "la", timezone)
    await seed_around_midnight(services, account)

    async with in_process_client(runtime.mcp, account.user) as client:
        today = await read_json(client, "tasks://today")
        upcoming = await read_json(client, "tasks://upcoming")

    assert [t["title"] for t in today["tasks"]] == ["Forgotten", "Late tonight"]
    assert [t["title"] for t in upcoming["tasks"]] == ["Just after midnight", "In six days"]
    assert today["timezone"] == timezone
    assert today["today"] == local_today(timezone, utcnow()).isoformat()


async def test_a_task_and_a_project_read_by_id_and_another_users_are_not_found(
    runtime, services, alice, bob
):
    errands = await services.projects.create_project(
        user=alice.user, data=ProjectCreate(name="Errands")
    )
    parent = await add(services, alice, "Big shop", project=errands.id)
    await add(services, alice, "Eggs", parent_id=parent.id)
    theirs = await add(services, bob, "Bob's secret")

    async with in_process_client(runtime.mcp, alice.user) as client:
        task = await read_json(client, f"task://{parent.id}")
        by_id = await read_json(client, f"project://{errands.id}")
        by_name = await read_json(client, "project://errands")
        with pytest.raises(MCPError, match=f"task {theirs.id} not found"):
            await client.read_resource(f"task://{theirs.id}")
        bob_inbox = (await services.projects.list_projects(user=bob.user)).projects[0]
        with pytest.raises(MCPError, match="not found"):
            await client.read_resource(f"project://{bob_inbox.id}")
        with pytest.raises(MCPError, match="not found"):
            await client.read_resource("task://nonsense")

    assert task["task"]["title"] == "Big shop"
    assert [t["title"] for t in task["subtasks"]] == ["Eggs"]
    assert by_id == by_name
    assert by_id["project"]["name"] == "Errands"
    assert {t["title"] for t in by_id["tasks"]} == {"Big shop", "Eggs"}


async def test_resources_and_templates_are_listed_with_descriptions(runtime, services, alice, bob):
    errands = await services.projects.create_project(
        user=alice.user, data=ProjectCreate(name="Errands")
    )
    due_now = await add(services, alice, "Call the plumber", due=utcnow() - timedelta(hours=1))
    await services.projects.create_project(user=bob.user, data=ProjectCreate(name="Bob's"))

    async with in_process_client(runtime.mcp, alice.user) as client:
        listed = {r.uri: r for r in (await client.list_resources()).resources}
        templates = {
            t.uri_template: t for t in (await client.list_resource_templates()).resource_templates
        }

    assert {"tasks://today", "tasks://upcoming", f"project://{errands.id}"} <= set(listed)
    assert listed[f"task://{due_now.id}"].title == "Call the plumber"
    assert not any("Bob" in (r.title or "") for r in listed.values())
    assert set(templates) == {"task://{id}", "project://{id}"}
    for item in [*listed.values(), *templates.values()]:
        assert item.mime_type == "application/json"
    for item in [listed["tasks://today"], *templates.values()]:
        assert item.description


async def test_prompts_render_with_the_users_real_tasks(runtime, services, alice, bob):
    now = utcnow()
    inbox = (await services.projects.list_projects(user=alice.user)).projects[0]
    await add(services, alice, "Pay rent", due=now - timedelta(hours=3), priority="high")
    await add(services, alice, "Buy a lamp", tags=["home"])
    done = await add(services, alice, "File taxes")
    await services.tasks.complete_task(user=alice.user, task_id=done.id)
    await add(services, bob, "Bob's private errand", due=now)

    async with in_process_client(runtime.mcp, alice.user) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        day = (await client.get_prompt("plan_my_day")).messages[0].content.text
        review = (await client.get_prompt("weekly_review")).messages[0].content.text
        triage = (await client.get_prompt("triage_inbox")).messages[0].content.text
        by_id = (await client.get_prompt("triage_inbox", {"project": str(inbox.id)})).messages
        with pytest.raises(MCPError, match="project"):
            await client.get_prompt("triage_inbox", {"project": "Nowhere"})

    assert set(prompts) == {"plan_my_day", "weekly_review", "triage_inbox"}
    assert [a.name for a in prompts["triage_inbox"].arguments] == ["project"]
    assert "'Pay rent'" in day and "overdue" in day.lower() and "update_tasks" in day
    assert "Propose an order" in day
    assert "'File taxes'" in review and "'Pay rent'" in review
    assert "'Buy a lamp'" in triage and "home" in triage and "update_tasks" in triage
    assert by_id[0].content.text == triage
    assert not any("Bob" in text for text in (day, review, triage))


async def test_completions_are_the_users_project_names_and_tags_by_prefix(
    runtime, services, alice, bob
):
    for name in ("Errands", "Erasmus trip", "Work"):
        await services.projects.create_project(user=alice.user, data=ProjectCreate(name=name))
    await services.projects.create_project(user=bob.user, data=ProjectCreate(name="Ergonomics"))
    many = [NewTask(title=f"t{n}", tags=[f"tag{n:02}{i:02}" for i in range(20)]) for n in range(6)]
    await services.tasks.create_tasks(user=alice.user, items=many)
    await add(services, alice, "Dentist", tags=["Health", "home"])
    await add(services, bob, "Bob's", tags=["hobby"])
    triage = PromptReference(type="ref/prompt", name="triage_inbox")
    project_template = ResourceTemplateReference(type="ref/resource", uri="project://{id}")
    plan = PromptReference(type="ref/prompt", name="plan_my_day")

    async with in_process_client(runtime.mcp, alice.user) as client:
        projects = (await client.complete(triage, {"name": "project", "value": "er"})).completion
        template = (
            await client.complete(project_template, {"name": "id", "value": "W"})
        ).completion
        tags = (await client.complete(plan, {"name": "tag", "value": "H"})).completion
        capped = (await client.complete(plan, {"name": "tag", "value": "tag"})).completion

    assert projects.values == ["Erasmus trip", "Errands"]
    assert template.values == ["Work"]
    assert tags.values == ["Health", "home"]
    assert len(capped.values) == 100 and capped.has_more is True
    assert capped.values == sorted(capped.values)


@pytest.mark.parametrize("transport", ["stdio", "http"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_resources_prompts_and_completions_over_stdio_and_http(
    transport, runtime, settings, services, alice
):
    await services.projects.create_project(user=alice.user, data=ProjectCreate(name="Errands"))
    task = await add(services, alice, "Post the parcel", due=utcnow() - timedelta(hours=1))
    triage = PromptReference(type="ref/prompt", name="triage_inbox")

    async with connect(transport, runtime, settings, alice) as client:
        today = await read_json(client, "tasks://today")
        one = await read_json(client, f"task://{task.id}")
        day = (await client.get_prompt("plan_my_day")).messages[0].content.text
        names = (await client.complete(triage, {"name": "project", "value": "e"})).completion

    assert [t["title"] for t in today["tasks"]] == ["Post the parcel"]
    assert one["task"]["id"] == task.id
    assert "'Post the parcel'" in day
    assert names.values == ["Errands"]
