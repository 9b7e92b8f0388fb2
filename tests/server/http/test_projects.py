"""Projects, subtasks, reminders, comments, activity and what next over REST, as the web
page and scripts use them (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.utils.factories import assert_error, post_task


async def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def test_a_project_is_created_filled_archived_deleted_and_restored(client, alice):
    headers = alice.headers
    created = await ok(
        await client.post("/api/projects", json={"name": "Errands"}, headers=headers), 201
    )
    parent = await post_task(client, headers, title="Shopping", project="errands")
    eggs = await post_task(client, headers, title="Eggs", parent_id=parent["id"])
    await post_task(client, headers, title="Elsewhere")

    listed = await ok(await client.get("/api/projects", headers=headers))
    assert [(p["name"], p["open_tasks"]) for p in listed["projects"]] == [
        ("Inbox", 1),
        ("Errands", 2),
    ]
    tasks = await ok(await client.get(f"/api/tasks?project={created['id']}", headers=headers))
    assert {t["title"]: t["open_subtasks"] for t in tasks["tasks"]} == {"Shopping": 1, "Eggs": 0}
    assert eggs["project_id"] == created["id"]

    path = f"/api/projects/{created['id']}"
    renamed = await ok(
        await client.patch(path, json={"name": "Chores", "color": "#aa3300"}, headers=headers)
    )
    assert (renamed["name"], renamed["color"]) == ("Chores", "#aa3300")
    await ok(await client.patch(path, json={"archived": True}, headers=headers))
    pending = await ok(await client.get("/api/tasks", headers=headers))
    assert [t["title"] for t in pending["tasks"]] == ["Elsewhere"]

    deleted = await ok(await client.delete(path, headers=headers))
    assert sorted(deleted["task_ids"]) == sorted([parent["id"], eggs["id"]])
    assert (await ok(await client.get(path, headers=headers)))["deleted_at"] is not None
    restored = await ok(await client.post(f"{path}/restore", headers=headers))
    assert restored["task_ids"] == deleted["task_ids"]
    assert restored["project"]["open_tasks"] == 2


async def test_reminders_comments_activity_and_what_next(client, alice):
    headers = alice.headers
    at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    task = await post_task(
        client,
        headers,
        title="Dentist",
        due=(at + timedelta(hours=2)).isoformat(),
        priority="high",
        reminders=[{"before_minutes": 60}, {"at": at.isoformat()}],
    )
    assert [(r["before_minutes"], r["fired"]) for r in task["reminders"]] == [
        (60, False),
        (None, False),
    ]
    assert task["remind_before_minutes"] == 60

    comment = await ok(
        await client.post(
            f"/api/tasks/{task['id']}/comments", json={"text": "Bring the card"}, headers=headers
        ),
        201,
    )
    comments = await ok(await client.get(f"/api/tasks/{task['id']}/comments", headers=headers))
    assert comments["comments"] == [comment]

    activity = await ok(await client.get(f"/api/activity?task_id={task['id']}", headers=headers))
    assert [e["type"] for e in activity["events"]] == ["comment.added", "task.created"]
    assert activity["events"][1]["changes"]["title"] == [None, "Dentist"]

    ranked = await ok(await client.get("/api/next?limit=3", headers=headers))
    assert ranked["tasks"][0]["task"]["id"] == task["id"]
    assert "high priority" in ranked["tasks"][0]["reasons"]


@pytest.fixture(scope="module")
async def setup(shared_api):
    """A user with a project, a chain of subtasks 4 deep and a task elsewhere; and another
    user with a project, a task and a comment. The rows below change none of it."""
    client = shared_api.client
    owner, other = await shared_api.account("owner"), await shared_api.account("other")
    h = owner.headers
    work = await ok(await client.post("/api/projects", json={"name": "Work"}, headers=h), 201)
    chain = [await post_task(client, h, title="Level 1", project="Work")]
    for level in (2, 3, 4):
        chain.append(await post_task(client, h, title=f"Level {level}", parent_id=chain[-1]["id"]))
    loose = await post_task(client, h, title="Loose")
    theirs = await ok(
        await client.post("/api/projects", json={"name": "Theirs"}, headers=other.headers), 201
    )
    their_task = await post_task(client, other.headers, title="Their task")
    await client.post(
        f"/api/tasks/{their_task['id']}/comments", json={"text": "theirs"}, headers=other.headers
    )
    ids = {
        "work": work["id"],
        "top": chain[0]["id"],
        "deepest": chain[-1]["id"],
        "loose": loose["id"],
        "theirs": theirs["id"],
        "their_task": their_task["id"],
    }
    return owner, other, ids


PAST = "2020-01-01T09:00"


@pytest.mark.parametrize(
    ("request_line", "body", "status", "field"),
    [
        ("POST /api/projects", {"name": ""}, 422, "name"),
        ("POST /api/projects", {"name": "   "}, 422, "name"),
        ("POST /api/projects", {"name": "WORK"}, 422, "name"),
        ("POST /api/projects", {"name": "x" * 121}, 422, "name"),
        ("POST /api/projects", {"name": "Red", "color": "red"}, 422, "color"),
        ("PATCH /api/projects/{work}", {"name": "inbox"}, 422, "name"),
        ("PATCH /api/projects/{work}", {"archived": "maybe"}, 422, "archived"),
        ("POST /api/tasks", {"title": "x", "parent_id": "{deepest}"}, 422, "parent_id"),
        ("PATCH /api/tasks/{top}", {"parent_id": "{deepest}"}, 422, "parent_id"),
        ("PATCH /api/tasks/{top}", {"parent_id": "{top}"}, 422, "parent_id"),
        ("PATCH /api/tasks/{loose}", {"parent_id": "{top}", "project": "Inbox"}, 422, "project"),
        ("POST /api/tasks", {"title": "x", "parent_id": "{their_task}"}, 422, "parent_id"),
        ("POST /api/tasks", {"title": "x", "project": "{theirs}"}, 422, "project"),
        ("POST /api/tasks", {"title": "x", "project": "Nowhere"}, 422, "project"),
        (
            "POST /api/tasks",
            {"title": "x", "reminders": [{"before_minutes": n} for n in range(1, 7)]},
            422,
            "reminders",
        ),
        ("POST /api/tasks", {"title": "x", "reminders": [{"at": PAST}]}, 422, "reminders[0].at"),
        ("POST /api/tasks/{top}/comments", {"text": "x" * 10_001}, 422, "text"),
        ("POST /api/tasks/{top}/comments", {"text": ""}, 422, "text"),
        ("GET /api/tasks?project=Nowhere", None, 422, "project"),
        ("GET /api/activity?limit=0", None, 422, "limit"),
        ("GET /api/next?limit=100", None, 422, "limit"),
        ("PATCH /api/projects/1", {"archived": True}, 422, "archived"),
        ("DELETE /api/projects/1", None, 409, None),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_changes(
    shared_api, setup, request_line, body, status, field
):
    owner, _, ids = setup
    client = shared_api.client
    method, path = request_line.split()
    inbox = (await ok(await client.get("/api/projects", headers=owner.headers)))["projects"][0]
    ids = {**ids, "work": ids["work"]}
    path = path.format(**ids).replace("/api/projects/1", f"/api/projects/{inbox['id']}")
    if body is not None:
        body = {
            k: ids[v[1:-1]] if isinstance(v, str) and v.startswith("{") else v
            for k, v in body.items()
        }
    before = await snapshot(client, owner)

    response = await client.request(method, path, json=body, headers=owner.headers)

    assert_error(response, status, field)
    assert await snapshot(client, owner) == before


async def snapshot(client, account):
    tasks = await ok(await client.get("/api/tasks?status=all&limit=200", headers=account.headers))
    projects = await ok(
        await client.get("/api/projects?include_archived=true", headers=account.headers)
    )
    return tasks, projects


@pytest.mark.parametrize(
    ("request_line", "body", "message"),
    [
        ("GET /api/projects/{theirs}", None, "project {theirs} not found"),
        ("PATCH /api/projects/{theirs}", {"name": "Mine"}, "project {theirs} not found"),
        ("DELETE /api/projects/{theirs}", None, "project {theirs} not found"),
        ("POST /api/projects/{theirs}/restore", None, "project {theirs} not found"),
        ("GET /api/tasks/{their_task}/comments", None, "task {their_task} not found"),
        ("POST /api/tasks/{their_task}/comments", {"text": "hi"}, "task {their_task} not found"),
        ("GET /api/activity?task_id={their_task}", None, "task {their_task} not found"),
        ("GET /api/activity?project={theirs}", None, "project {theirs} not found"),
    ],
)
async def test_another_users_project_task_or_comments_are_not_found(
    shared_api, setup, request_line, body, message
):
    owner, other, ids = setup
    client = shared_api.client
    method, path = request_line.split()
    before = await snapshot(client, other)

    response = await client.request(method, path.format(**ids), json=body, headers=owner.headers)

    error = assert_error(response, 404)
    assert error["message"] == message.format(**ids)
    assert await snapshot(client, other) == before
    comments = await ok(
        await client.get(f"/api/tasks/{ids['their_task']}/comments", headers=other.headers)
    )
    assert [c["text"] for c in comments["comments"]] == ["theirs"]
