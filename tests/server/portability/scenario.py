"""An account with one of everything an export carries, and exports compared modulo ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from server.comments.models import CommentCreate
from server.projects.models import ProjectCreate, ProjectUpdate
from server.services import Services
from server.tasks.models import TaskCreate, TaskUpdate
from server.users.models import User


async def fill_account(services: Services, user: User) -> None:
    """Projects (coloured, archived, deleted), a 3-level subtask tree, reminders (relative,
    absolute, fired), comments, tags, a completed recurring task and its next occurrence,
    a deleted task with the subtask that went with it, and a calendar key (a secret)."""
    tasks, projects = services.tasks, services.projects
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    work = await projects.create_project(
        user=user, data=ProjectCreate(name="Work", color="#e05d44")
    )
    someday = await projects.create_project(user=user, data=ProjectCreate(name="Someday"))
    old = await projects.create_project(user=user, data=ProjectCreate(name="Old"))
    launch = await tasks.create_task(
        user=user,
        data=TaskCreate(
            title="Plan the launch",
            description="Everything for **Monday**",
            project="Work",
            due=soon,
            priority="high",
            tags=["work", "Q4"],
            reminders=[{"before_minutes": 60}, {"at": soon - timedelta(days=1)}],
        ),
    )
    draft = await tasks.create_task(user=user, data=TaskCreate(title="Draft", parent_id=launch.id))
    await tasks.create_task(
        user=user, data=TaskCreate(title="Outline", parent_id=draft.id, priority="low")
    )
    await services.comments.add_comment(
        user=user, task_id=launch.id, data=CommentCreate(text="Ask Sam about the venue")
    )
    await services.comments.add_comment(
        user=user, task_id=draft.id, data=CommentCreate(text="First pass done")
    )
    plants = await tasks.create_task(
        user=user,
        data=TaskCreate(
            title="Water the plants",
            due=datetime(2026, 11, 2, 9, tzinfo=UTC),
            recurrence="FREQ=WEEKLY;BYDAY=MO",
            remind_before_minutes=15,
        ),
    )
    await tasks.complete_task(user=user, task_id=plants.id)
    gone = await tasks.create_task(user=user, data=TaskCreate(title="Old idea", tags=["maybe"]))
    await tasks.create_task(user=user, data=TaskCreate(title="Its detail", parent_id=gone.id))
    await tasks.delete_task(user=user, task_id=gone.id)
    await tasks.create_task(user=user, data=TaskCreate(title="Learn Rust", project=someday.id))
    await projects.update_project(user=user, ref=someday.id, data=ProjectUpdate(archived=True))
    await tasks.create_task(user=user, data=TaskCreate(title="Legacy report", project=old.id))
    await projects.delete_project(user=user, ref=old.id)
    # Moved under a parent made after it: the file lists a subtask before its parent.
    early = await tasks.create_task(user=user, data=TaskCreate(title="Book the room"))
    late = await tasks.create_task(user=user, data=TaskCreate(title="Venue", project=work.id))
    await tasks.update_task(
        user=user, task_id=early.id, data=TaskUpdate(parent_id=late.id, project=work.id)
    )
    await services.calendar.feed_key(user=user)


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """An export with its ids replaced by what they point at and the fields an import may
    not keep (the export time, the user's name, the Inbox's creation) left out."""
    projects = {p["id"]: p["name"] for p in document["projects"]}
    titles = {t["id"]: f"{t['title']}@{t['created_at']}" for t in document["tasks"]}
    series: dict[str, list[str]] = {}
    for task in document["tasks"]:
        if task["series_id"]:
            series.setdefault(task["series_id"], []).append(titles[task["id"]])

    def marker(value: str | None) -> str | None:
        if value is None:
            return None
        kind, _, key = value.partition(":")
        return f"{kind}:{(projects if kind == 'project' else titles)[int(key)]}"

    tasks = [
        task
        | {
            "id": titles[task["id"]],
            "project_id": projects[task["project_id"]],
            "parent_id": task["parent_id"] and titles[task["parent_id"]],
            "occurrence_of": task["occurrence_of"] and titles[task["occurrence_of"]],
            "series_id": task["series_id"] and sorted(series[task["series_id"]]),
            "deleted_with": marker(task["deleted_with"]),
        }
        for task in document["tasks"]
    ]
    return {
        "format": document["format"],
        "version": document["version"],
        "user": {k: v for k, v in document["user"].items() if k != "name"},
        "settings": document["settings"],
        "projects": sorted(
            (
                {k: v for k, v in p.items() if k != "id" and not (p["inbox"] and k == "created_at")}
                for p in document["projects"]
            ),
            key=lambda p: p["name"],
        ),
        "tasks": sorted(tasks, key=lambda t: t["id"]),
    }
