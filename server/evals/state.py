"""A scenario's scratch data: seeding its starting state and reading what the agent left."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.comments.models import CommentCreate
from server.projects.models import ProjectCreate, ProjectUpdate
from server.services import Services
from server.tasks.models import TaskCreate, TaskPublic, TaskQuery
from server.users.models import User

from .scenario import Scenario, SeedTask

LISTED_MAX = 200  # a scenario's few tasks fit in one page


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    name: str
    archived: bool
    deleted: bool


@dataclass(frozen=True, slots=True)
class State:
    """Every task (deleted ones included) and project name of the scenario's user, and a
    fingerprint of the other user's data."""

    tasks: list[TaskPublic]
    projects: dict[int, ProjectInfo]  # deleted ones too
    marks: tuple[Any, ...]  # when each task and project of either user last changed
    comments: dict[int, int]  # how many comments each task has

    def fingerprint(self) -> tuple[Any, ...]:
        """What a change to any task or project changes."""
        return self.marks

    def by_id(self, task_id: int) -> TaskPublic | None:
        return next((task for task in self.tasks if task.id == task_id), None)


async def _all_tasks(services: Services, user: User) -> list[TaskPublic]:
    tasks: list[TaskPublic] = []
    for status in ("all", "deleted"):
        query = TaskQuery(status=status, limit=LISTED_MAX, sort="created")
        page = await services.tasks.list_tasks(user=user, query=query)
        tasks.extend(page.tasks)
    return tasks


async def read_state(services: Services, user: User, other: User) -> State:
    tasks = await _all_tasks(services, user)
    marks: list[tuple[str, int, str]] = []
    projects: dict[int, ProjectInfo] = {}
    for owner in (user, other):
        listed = tasks if owner is user else await _all_tasks(services, owner)
        marks.extend(("task", task.id, str(task.updated_at)) for task in listed)
        live = await services.projects.list_projects(user=owner, include_archived=True)
        marks.extend(("project", p.id, str(p.updated_at)) for p in live.projects)
        if owner is user:
            archived = {p.id: p.archived for p in live.projects}
            for project_id, name in (await services.projects.names(user=user)).items():
                deleted = project_id not in archived
                projects[project_id] = ProjectInfo(name, archived.get(project_id, False), deleted)
    comments = {}
    for task in tasks:
        if task.deleted_at is None:
            listed = await services.comments.list_comments(user=user, task_id=task.id)
            comments[task.id] = len(listed.comments)
    return State(
        tasks=tasks,
        projects=projects,
        marks=tuple(sorted(marks)),
        comments=comments,
    )


async def seed(services: Services, scenario: Scenario, user: User, other: User) -> dict[str, int]:
    """Create the scenario's starting state; the ids of its keyed tasks."""
    for project in scenario.seed.projects:
        await services.projects.create_project(user=user, data=ProjectCreate(name=project.name))
    keys: dict[str, int] = {}
    for item in scenario.seed.tasks:
        await _seed_task(services, scenario, user, item, keys)
    for item in scenario.seed.other_user_tasks:
        await _seed_task(services, scenario, other, item, keys)
    for project in scenario.seed.projects:
        if project.archived:
            change = ProjectUpdate(archived=True)
            await services.projects.update_project(user=user, ref=project.name, data=change)
    return keys


async def _seed_task(
    services: Services, scenario: Scenario, user: User, item: SeedTask, keys: dict[str, int]
) -> None:
    fields = {
        "title": item.title,
        "description": item.description,
        "due": scenario.local(item.due) if item.due else None,
        "priority": item.priority,
        "tags": item.tags or None,
        "recurrence": item.recurrence,
        "project": item.project,
        "parent_id": keys[item.parent] if item.parent else None,
    }
    # Only the fields given: a null `project` would be refused, not defaulted.
    data = TaskCreate(**{name: value for name, value in fields.items() if value is not None})
    task = await services.tasks.create_task(user=user, data=data)
    for text in item.comments:
        comment = CommentCreate(text=text)
        await services.comments.add_comment(user=user, task_id=task.id, data=comment)
    if item.completed:
        await services.tasks.complete_task(user=user, task_id=task.id)
    if item.deleted:
        await services.tasks.delete_task(user=user, task_id=task.id)
    if item.key:
        keys[item.key] = task.id
