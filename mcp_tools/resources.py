"""The MCP resources: the user's day and week as JSON, and a task or a project by id.

- `tasks://today`: open tasks due on the user's calendar day (their timezone), overdue ones
  included; `tasks://upcoming`: the next 7 days.
- Templates `task://{id}` (the task, its subtasks and comments) and `project://{id}` (the
  project, by id or name, and its open tasks).
- `resources/list` adds the user's projects and today's tasks to the two fixed lists.

Everything reads as the connection's user; another user's id is "not found". The SDK gives
static resources no Context, so they get the services at registration; the templates and
the listing read them from the request's lifespan context, as the tools do.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp_types import ListResourcesResult, Resource

from mcp_tools.identity import current_user
from mcp_tools.results import acting
from server.errors import NotFound, TodoError
from server.services import Services
from server.tasks.models import TaskQuery

JSON = "application/json"
TODAY = "tasks://today"
UPCOMING = "tasks://upcoming"


def task_uri(task_id: int) -> str:
    return f"task://{task_id}"


def project_uri(project_id: int) -> str:
    return f"project://{project_id}"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def task_id_of(text: str) -> int:
    try:
        task_id = int(text)
    except ValueError:
        raise ResourceNotFoundError(f"task {text!r} not found: give a task id") from None
    return task_id


async def read_task(ctx: Context, id: str) -> str:  # noqa: A002 - the template's name
    """A task as JSON, with its open subtasks and its comments."""
    services, user = acting(ctx)
    task_id = task_id_of(id)
    try:
        task = await services.tasks.get_task(user=user, task_id=task_id)
        subtasks = await services.tasks.list_tasks(
            user=user, query=TaskQuery(parent_id=task_id, limit=200)
        )
        comments = await services.comments.list_comments(user=user, task_id=task_id)
    except NotFound as exc:
        raise ResourceNotFoundError(exc.message) from exc
    except TodoError as exc:
        raise ResourceError(exc.message) from exc
    return dumps(
        {
            "task": task.model_dump(mode="json"),
            "subtasks": [t.model_dump(mode="json") for t in subtasks.tasks],
            "comments": comments.model_dump(mode="json")["comments"],
        }
    )


async def read_project(ctx: Context, id: str) -> str:  # noqa: A002 - the template's name
    """A project (by id, or by name ignoring case) as JSON, with its open tasks."""
    services, user = acting(ctx)
    ref: int | str = int(id) if id.isdigit() else id
    try:
        project = await services.projects.get_project(user=user, ref=ref)
        if project.deleted_at is not None:
            raise NotFound(
                f"project {id!r} not found (it is deleted; restore_project brings it back)"
            )
        tasks = await services.tasks.list_tasks(
            user=user, query=TaskQuery(project=project.id, limit=200)
        )
    except NotFound as exc:
        raise ResourceNotFoundError(exc.message) from exc
    except TodoError as exc:
        raise ResourceError(exc.message) from exc
    return dumps(
        {
            "project": project.model_dump(mode="json"),
            "tasks": [t.model_dump(mode="json") for t in tasks.tasks],
            "more": tasks.next_cursor is not None,
        }
    )


class ListUserResources:
    """Server middleware: `resources/list` gives the fixed lists, then the user's projects
    and today's open tasks (the SDK lists only what is registered)."""

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        found = await call_next(ctx)
        if ctx.method != "resources/list" or found is None:
            return found
        # What the SDK's handler gave, as a result or (serialized) as a dict.
        listed = ListResourcesResult.model_validate(found)
        services: Services = ctx.lifespan_context
        user = current_user()
        projects = await services.projects.list_projects(user=user)
        today = await services.tasks.today(user=user)
        extra = [
            Resource(
                uri=project_uri(p.id),
                name=f"project-{p.id}",
                title=f"Project {p.name}",
                description=f"{p.name}: {p.open_tasks} open task(s)",
                mime_type=JSON,
            )
            for p in projects.projects
        ]
        extra += [
            Resource(
                uri=task_uri(t.id),
                name=f"task-{t.id}",
                title=t.title,
                description="due today" if t.due else None,
                mime_type=JSON,
            )
            for t in today.tasks
        ]
        return ListResourcesResult(resources=[*listed.resources, *extra])


def register(mcp: MCPServer, services: Services) -> None:
    async def today() -> str:
        return (await services.tasks.today(user=current_user())).model_dump_json()

    async def upcoming() -> str:
        return (await services.tasks.upcoming(user=current_user())).model_dump_json()

    mcp.resource(
        TODAY,
        name="today",
        title="Today",
        description=(
            "Open tasks due today in your timezone, overdue ones included, soonest first "
            "(JSON: timezone, today, due_before, tasks)."
        ),
        mime_type=JSON,
    )(today)
    mcp.resource(
        UPCOMING,
        name="upcoming",
        title="Next 7 days",
        description="Open tasks due on the next 7 days after today, soonest first (JSON).",
        mime_type=JSON,
    )(upcoming)
    mcp.resource(
        "task://{id}",
        name="task",
        title="Task",
        description="One task by id, with its open subtasks and its comments (JSON).",
        mime_type=JSON,
    )(read_task)
    mcp.resource(
        "project://{id}",
        name="project",
        title="Project",
        description="One project, by id or by name, with its open tasks (JSON).",
        mime_type=JSON,
    )(read_project)
    mcp.middleware.append(ListUserResources())
