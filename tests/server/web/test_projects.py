"""Projects, subtasks, details and what next on the web page, in a real browser (Debian
chromium via playwright) against `todo-agent serve` and the scripted provider."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import expect

from testkit.fake_llm import Reply, ToolCall
from tests.server.web.test_browser import LIVE_WAIT_MS, sign_in_from_printed_url


def project_button(projects, name: str):
    """The button that shows a project's tasks ("Garden 2 open")."""
    return projects.get_by_role("button", name=re.compile(rf"^{re.escape(name)} \d+ open$"))


async def api_post(server, path: str, body: dict) -> dict:
    async with httpx.AsyncClient(base_url=server.base_url, headers=server.headers) as api:
        response = await api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_project_created_in_chat_appears_in_the_panel(page, server, fake_llm):
    fake_llm.rule(
        "holiday",
        Reply(tool_calls=[ToolCall("add_project", {"name": "Holidays"}, id="p1")]),
        "Created the project **Holidays**.",
    )
    await sign_in_from_printed_url(page, server)
    projects = page.get_by_role("list", name="Projects")
    await expect(projects).to_contain_text("Inbox")
    await expect(projects).not_to_contain_text("Holidays")

    await page.get_by_label("Message", exact=True).fill("Make me a project for the holidays")
    await page.get_by_label("Message", exact=True).press("Enter")

    messages = page.get_by_role("log", name="Messages")
    await expect(messages).to_contain_text("Created the project Holidays.")
    # The panel learns it from GET /api/events, without a reload.
    await expect(project_button(projects, "Holidays")).to_be_visible(timeout=LIVE_WAIT_MS)


async def test_completing_a_parent_ticks_its_subtasks(page, server):
    parent = await api_post(server, "/api/tasks", {"title": "Pack for the trip"})
    for title in ("Passport", "Charger"):
        await api_post(server, "/api/tasks", {"title": title, "parent_id": parent["id"]})
    await sign_in_from_printed_url(page, server)
    await page.get_by_role("button", name="All", exact=True).click()
    tasks = page.locator("#task-list")
    # Subtasks are shown indented under their parent.
    await expect(tasks.locator("li.task.depth-2")).to_have_count(2)
    await expect(tasks.locator("li.task.depth-1")).to_contain_text("2 open subtasks")

    await tasks.get_by_role("checkbox", name="Pack for the trip").check()

    for title in ("Passport", "Charger"):
        await expect(tasks.get_by_role("checkbox", name=title)).to_be_checked()
    await page.get_by_role("button", name="Pending", exact=True).click()
    await expect(tasks).not_to_contain_text("Passport")


async def test_deleting_a_project_and_undoing_it_brings_its_tasks_back(page, server):
    await api_post(server, "/api/projects", {"name": "Garden"})
    for title in ("Mow the lawn", "Pull the weeds"):
        await api_post(server, "/api/tasks", {"title": title, "project": "Garden"})
    await api_post(server, "/api/tasks", {"title": "Call mum"})
    await sign_in_from_printed_url(page, server)
    projects = page.get_by_role("list", name="Projects")
    tasks = page.locator("#task-list")
    await project_button(projects, "Garden").click()
    await expect(tasks).to_contain_text("Mow the lawn")
    await expect(tasks).not_to_contain_text("Call mum")

    await page.get_by_role("button", name="Delete project “Garden”").click()

    await expect(projects).not_to_contain_text("Garden")
    await expect(tasks).to_contain_text("Call mum")  # back to every project
    await expect(tasks).not_to_contain_text("Mow the lawn")
    toast = page.locator(".toast", has_text="Deleted “Garden” and 2 tasks.")
    await toast.get_by_role("button", name="Undo").click()

    await project_button(projects, "Garden").click()
    await expect(tasks).to_contain_text("Mow the lawn")
    await expect(tasks).to_contain_text("Pull the weeds")


async def test_a_subtask_a_comment_a_reminder_and_what_next_from_the_panel(page, server):
    await api_post(server, "/api/tasks", {"title": "Renew passport", "priority": "high"})
    await sign_in_from_printed_url(page, server)
    tasks = page.locator("#task-list")

    await page.get_by_role("button", name="Add a subtask to “Renew passport”").click()
    await page.get_by_label("New subtask of “Renew passport”").fill("Take photos")
    await page.get_by_label("New subtask of “Renew passport”").press("Enter")
    await expect(tasks.locator("li.task.depth-2")).to_contain_text("Take photos")

    await page.get_by_role("button", name="Details of “Renew passport”").click()
    details = tasks.locator(".task-details")
    await details.get_by_label("New comment").fill("Bring the old one")
    await details.get_by_role("button", name="Comment").click()
    await expect(details.locator(".comment-list")).to_contain_text("Bring the old one")
    await details.get_by_label("New reminder for “Renew passport”").fill("friday 8am")
    await details.get_by_role("button", name="Add reminder").click()
    reminders = tasks.get_by_role("region", name="Reminders of “Renew passport”")
    await expect(reminders).to_contain_text("At ")

    await page.get_by_role("button", name="What next").click()
    ranked = page.locator("#next-list")
    await expect(ranked.locator("li").first).to_contain_text("Renew passport")
    await expect(ranked.locator("li").first).to_contain_text("high priority")
    await expect(ranked.locator("li").first).to_contain_text("1 open subtask waiting on it")
