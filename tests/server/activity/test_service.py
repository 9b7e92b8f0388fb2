"""Activity: every change to tasks and projects, field by field, from the same transaction
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.activity.models import Activity, ActivityQuery
from server.comments.models import CommentCreate
from server.db import utcnow
from server.errors import NotFound, ValidationFailed
from server.projects.models import ProjectUpdate
from server.tasks.models import NewTask, TaskUpdate
from tests.utils.events import count
from tests.utils.factories import make_project, make_task


async def activity(services, user, **query):
    page = await services.activity.list_activity(user=user, query=ActivityQuery(**query))
    return page


async def test_each_change_of_a_task_is_recorded_with_its_old_and_new_values(services, alice):
    task = await make_task(services, alice.user, title="Pay rent", remind_before_minutes=0)
    await services.tasks.update_task(
        user=alice.user,
        task_id=task.id,
        data=TaskUpdate(title="Pay the rent", due="2030-06-01T09:00"),
    )
    await services.tasks.complete_task(user=alice.user, task_id=task.id)
    await services.comments.add_comment(
        user=alice.user, task_id=task.id, data=CommentCreate(text="Paid")
    )

    page = await activity(services, alice.user, task_id=task.id)

    assert [(e.type, e.changes) for e in page.events] == [
        ("comment.added", {"comment": [None, "Paid"]}),
        ("task.completed", {"completed": [False, True]}),
        (
            "task.updated",
            {"title": ["Pay rent", "Pay the rent"], "due": [None, "2030-06-01T07:00:00+00:00"]},
        ),
        ("task.created", {"title": [None, "Pay rent"], "project_id": [None, task.project_id]}),
    ]
    assert {e.task_id for e in page.events} == {task.id}
    assert all(e.project_id == task.project_id for e in page.events)


async def test_activity_is_paged_newest_first_and_filtered(services, alice):
    trips = await make_project(services, alice.user, "Trips")
    for index in range(5):
        await make_task(services, alice.user, title=f"Task {index}", project="Trips")
    await services.projects.update_project(
        user=alice.user, ref="Trips", data=ProjectUpdate(color="#123456")
    )

    seen, cursor = [], None
    while True:
        page = await activity(services, alice.user, project="trips", limit=2, cursor=cursor)
        seen += page.events
        if not (cursor := page.next_cursor):
            break

    assert [e.type for e in seen] == ["project.updated", *["task.created"] * 5, "project.created"]
    assert seen[0].changes == {"color": [None, "#123456"]}
    assert {e.project_id for e in seen} == {trips.id}
    assert len({e.id for e in seen}) == len(seen)
    recent = await activity(services, alice.user, since=utcnow() + timedelta(hours=1))
    assert recent.events == []


async def test_a_change_that_fails_records_no_activity(services, alice):
    before = await count(services, Activity)

    with pytest.raises(ValidationFailed):
        await services.tasks.create_tasks(
            user=alice.user, items=[NewTask(title="Fine"), NewTask(title="x", due="never ever")]
        )

    assert await count(services, Activity) == before


async def test_another_users_activity_is_not_found(services, alice, bob):
    task = await make_task(services, alice.user, title="Secret")
    project = await make_project(services, alice.user, "Private")

    assert [e.type for e in (await activity(services, bob.user)).events] == ["project.created"]
    with pytest.raises(NotFound, match=f"task {task.id} not found"):
        await activity(services, bob.user, task_id=task.id)
    with pytest.raises(NotFound, match=f"project {project.id} not found"):
        await activity(services, bob.user, project=project.id)
    with pytest.raises(ValidationFailed) as failed:
        await activity(services, alice.user, cursor="not-a-cursor")
    assert failed.value.field == "cursor"
