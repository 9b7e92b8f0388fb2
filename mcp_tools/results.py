"""What every tool shares: who is acting, the tool annotations, error translation, and the
short text that goes with each structured result."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

from mcp_tools.identity import current_user
from server.errors import TodoError, ValidationFailed
from server.services import Services
from server.tasks.models import TaskPublic
from server.users.models import User

P = ParamSpec("P")
R = TypeVar("R")

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
IDEMPOTENT = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
ADDITIVE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


def acting(ctx: Context) -> tuple[Services, User]:
    """The services (the server's lifespan context) and the user this call acts as."""
    return ctx.request_context.lifespan_context, current_user()


def translated(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Domain errors become tool errors whose text names the field or the problem (an
    unavailable database included: `Database` reports it as one)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except ValidationFailed as exc:
            # "body" is REST's name for the whole request; a tool call has arguments.
            field = "arguments" if exc.field == "body" else exc.field
            raise ToolError(f"{field}: {exc.rule}") from exc
        except TodoError as exc:
            raise ToolError(exc.message) from exc

    return wrapper


def result(model: BaseModel, text: str) -> CallToolResult:
    """A structured result (the model, as its output schema says) with a short text."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json"),
    )


def when(value: datetime | None, timezone: str) -> str:
    if value is None:
        return "no due date"
    local = value.astimezone(ZoneInfo(timezone))
    return f"due {local:%a %d %b %Y %H:%M} {timezone}"


def task_line(task: TaskPublic, timezone: str, projects: dict[int, str] | None = None) -> str:
    """One line about a task for the model, with its due time in the user's timezone (and
    its project's name, given the names)."""
    state = "done" if task.completed else "deleted" if task.deleted_at else "pending"
    extra = f", {task.priority.value}" if task.priority else ""
    extra += f", tags {', '.join(task.tags)}" if task.tags else ""
    extra += f", repeats {task.recurrence}" if task.recurrence else ""
    if projects is not None and task.project_id in projects:
        extra += f", in {projects[task.project_id]}"
    extra += f", subtask of #{task.parent_id}" if task.parent_id else ""
    extra += f", {task.open_subtasks} open subtask(s)" if task.open_subtasks else ""
    return f"#{task.id} {task.title!r} ({state}, {when(task.due, timezone)}{extra})"


def task_lines(tasks: list[TaskPublic], timezone: str, projects: dict[int, str]) -> list[str]:
    return [task_line(task, timezone, projects) for task in tasks]
