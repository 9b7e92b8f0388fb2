"""Factories for tests: tasks through the service, notifications straight into their table."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import httpx
from sqlalchemy import func, select

from server.db import utcnow
from server.notifications.models import Notification, NotificationList
from server.projects.models import ProjectCreate, ProjectPublic
from server.services import Services
from server.tasks.models import Status, Task, TaskCreate, TaskPublic, TaskQuery
from server.users.models import User


async def make_task(services: Services, user: User, title: str = "Task", **fields) -> TaskPublic:
    """A task created through the task service, as any client would create it."""
    return await services.tasks.create_task(user=user, data=TaskCreate(title=title, **fields))


async def make_project(services: Services, user: User, name: str, **fields) -> ProjectPublic:
    """A project created through the project service."""
    return await services.projects.create_project(
        user=user, data=ProjectCreate(name=name, **fields)
    )


async def inbox_of(services: Services, user: User) -> ProjectPublic:
    return (await services.projects.list_projects(user=user)).projects[0]


async def make_notification(
    services: Services,
    user: User,
    *,
    title: str = "Reminder: Pay rent",
    kind: str = "reminder",
    task_id: int | None = None,
    read: bool = False,
) -> Notification:
    """A stored notification, inserted directly (the consumer that makes them is not needed)."""
    notification = Notification(
        user_id=user.id,
        task_id=task_id,
        kind=kind,
        title=title,
        source_event_id=str(uuid.uuid4()),
        read_at=utcnow() if read else None,
    )
    async with services.db.transaction() as session:
        session.add(notification)
    return notification


async def stored_task_count(services: Services, user: User) -> int:
    """Every task row of `user`, deleted ones included: what a failed request must not add."""
    async with services.db.session() as session:
        stmt = select(func.count()).select_from(Task).where(Task.user_id == user.id)
        return int(await session.scalar(stmt) or 0)


async def titles(services: Services, user: User, **query: Any) -> list[str]:
    """The titles of the user's first page of tasks (every status unless one is given)."""
    query.setdefault("status", Status.all)
    query.setdefault("limit", 200)
    page = await services.tasks.list_tasks(user=user, query=TaskQuery(**query))
    return [task.title for task in page.tasks]


async def post_task(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict:
    """POST /api/tasks that must succeed; returns the created task."""
    response = await client.post("/api/tasks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def assert_error(response: httpx.Response, status: int, field: str | None = None) -> dict:
    """The response is the JSON error shape with `status`; its message names `field`."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] and error["message"]
    if field is not None:
        assert field in error["message"], error
        assert error["details"]["field"].startswith(field), error
    return error


class HasUser(Protocol):
    user: User


async def snapshot(services: Services, account: HasUser) -> dict[str, Any]:
    """Everything the victim has, as they would read it."""
    user = account.user
    tasks = await services.tasks.list_tasks(
        user=user, query=TaskQuery(status=Status.all, limit=200)
    )
    deleted = await services.tasks.list_tasks(
        user=user, query=TaskQuery(status=Status.deleted, limit=200)
    )
    projects = await services.projects.list_projects(user=user, include_archived=True)
    comments = [
        await services.comments.list_comments(user=user, task_id=t.id)
        for t in [*tasks.tasks, *deleted.tasks]
    ]
    notes = await services.notifications.list_notifications(user=user, unread_only=False)
    talks = await services.conversations.list_conversations(user=user)
    details = [
        await services.conversations.get_conversation(user=user, conversation_id=c.id)
        for c in talks.conversations
    ]
    return {
        "tasks": tasks.model_dump(),
        "deleted": deleted.model_dump(),
        "projects": projects.model_dump(),
        "comments": [c.model_dump() for c in comments],
        "notifications": NotificationList(notifications=notes).model_dump(),
        "conversations": [d.model_dump() for d in details],
    }
