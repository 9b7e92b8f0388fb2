"""The MCP server: task and notification tools, a thin adapter over the services."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from mcp.server import MCPServer
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_tools.identity import ApiTokenVerifier, current_user
from server.db import DATABASE_DOWN
from server.errors import TodoError
from server.notifications.models import Marked, NotificationList
from server.services import Services
from server.tasks.models import (
    DESCRIPTION_MAX,
    REMIND_MAX_MINUTES,
    TAG_MAX,
    TAGS_MAX,
    TITLE_MAX,
    CompletionPublic,
    Priority,
    TaskCreate,
    TaskPage,
    TaskPublic,
    TaskUpdate,
)
from server.tasks.service import MAX_LIMIT, ListQuery, Sort, Status
from server.validation import parse_model

INSTRUCTIONS = """\
Tools for the user's personal task list. The user is fixed by the connection: you can only \
see and change this user's tasks.
- To act on a task the user names ("the dentist task"), find it first with list_tasks \
(query=..., status="all" if it may be completed) and use its id; ask when several match.
- Dates: pass `due` as ISO 8601 (2026-11-23T17:00) or plain phrases ("tomorrow 5pm", \
"next monday 9am"). Times without an offset are in the user's timezone. Results show the \
resolved absolute time; tell the user that time, in their timezone.
- Completing a recurring task creates its next occurrence; deleting is reversible with \
restore_task.
"""

logger = logging.getLogger(__name__)

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

TaskId = Annotated[int, Field(description="The task's id, as returned by list_tasks or add_task.")]
Title = Annotated[
    str,
    Field(min_length=1, max_length=TITLE_MAX, description="Short title, e.g. 'Call the dentist'."),
]
Description = Annotated[
    str | None, Field(max_length=DESCRIPTION_MAX, description="Optional longer notes.")
]
Due = Annotated[
    str | None,
    Field(
        max_length=200,
        description="When it is due: ISO 8601 ('2026-11-23T17:00') or a phrase ('tomorrow 5pm', "
        "'next monday'); no offset means the user's timezone.",
    ),
]
PriorityArg = Annotated[
    Literal["high", "medium", "low"] | None, Field(description="high, medium or low.")
]
Tags = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=TAG_MAX)]] | None,
    Field(max_length=TAGS_MAX, description="Labels such as ['work', 'errands'] (at most 20)."),
]
Recurrence = Annotated[
    str | None,
    Field(
        max_length=500,
        description="Repeat rule: daily, weekly, monthly, yearly, or an RFC 5545 RRULE such as "
        "'FREQ=WEEKLY;BYDAY=MO'. The next occurrence is created when this one is completed.",
    ),
]
RemindBefore = Annotated[
    int | None,
    Field(
        ge=0,
        le=REMIND_MAX_MINUTES,
        description="Minutes before `due` to send a reminder (omit for the default; 0 for none).",
    ),
]


def _translate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Domain errors become tool errors whose text names the field or the problem."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except TodoError as exc:
            raise ToolError(exc.message) from exc
        except DATABASE_DOWN as exc:
            logger.warning("database unavailable in %s: %r", fn.__name__, exc)
            raise ToolError("the database is unavailable; try again shortly") from exc

    return wrapper


def _when(value: datetime | None, timezone: str) -> str:
    if value is None:
        return "no due date"
    local = value.astimezone(ZoneInfo(timezone))
    return f"due {local:%a %d %b %Y %H:%M} {timezone}"


def _line(task: TaskPublic, timezone: str) -> str:
    state = "done" if task.completed else "deleted" if task.deleted_at else "pending"
    extra = f", {task.priority.value}" if task.priority else ""
    extra += f", tags {', '.join(task.tags)}" if task.tags else ""
    extra += f", repeats {task.recurrence}" if task.recurrence else ""
    return f"#{task.id} {task.title!r} ({state}, {_when(task.due, timezone)}{extra})"


def _result(model: BaseModel, text: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json"),
    )


def _cleared(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("", "none", "null")


def create_mcp_server(
    services: Services, *, issuer_url: str = "http://127.0.0.1:8000"
) -> MCPServer:
    """The MCP server over `services`; its tools act as the transport's authenticated user."""
    mcp = MCPServer(
        name="todo-agent",
        title="todo-agent tasks",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        token_verifier=ApiTokenVerifier(services.users),
        auth=AuthSettings(issuer_url=issuer_url, resource_server_url=None),
        log_level=services.settings.log_level,
    )
    tasks = services.tasks
    notifications = services.notifications

    @mcp.tool(annotations=ADDITIVE)
    @_translate
    async def add_task(
        title: Title,
        description: Description = None,
        due: Due = None,
        priority: PriorityArg = None,
        tags: Tags = None,
        recurrence: Recurrence = None,
        remind_before_minutes: RemindBefore = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                max_length=200,
                description="Optional unique key; repeating a call with the same key returns "
                "the task it first created instead of adding a duplicate.",
            ),
        ] = None,
    ) -> Annotated[CallToolResult, TaskPublic]:
        """Add a task to the user's list."""
        user = current_user()
        given = {
            "title": title,
            "description": description,
            "due": due,
            "priority": priority,
            "tags": tags,
            "recurrence": recurrence,
            "remind_before_minutes": remind_before_minutes,
        }
        data = parse_model(TaskCreate, {k: v for k, v in given.items() if v is not None})
        task = await tasks.create_task(user=user, data=data, idempotency_key=idempotency_key)
        return _result(task, f"Added {_line(task, user.timezone)}")

    @mcp.tool(annotations=READ_ONLY)
    @_translate
    async def list_tasks(
        status: Annotated[
            Literal["pending", "completed", "all", "deleted"],
            Field(description="pending (default), completed, all, or deleted (restorable)."),
        ] = "pending",
        priority: PriorityArg = None,
        tag: Annotated[str | None, Field(max_length=TAG_MAX, description="Only this tag.")] = None,
        query: Annotated[
            str | None,
            Field(max_length=200, description="Words to find in the title or description."),
        ] = None,
        due_before: Annotated[
            str | None, Field(max_length=200, description="Due before this time (ISO or phrase).")
        ] = None,
        due_after: Annotated[
            str | None, Field(max_length=200, description="Due after this time (ISO or phrase).")
        ] = None,
        overdue: Annotated[
            bool | None, Field(description="true: only unfinished tasks past their due time.")
        ] = None,
        sort: Annotated[
            Literal["due", "priority", "created", "title"],
            Field(description="due (default, soonest first), priority, created (newest), title."),
        ] = "due",
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Page size (1-200).")] = 50,
        cursor: Annotated[
            str | None, Field(max_length=1000, description="next_cursor of the previous page.")
        ] = None,
    ) -> Annotated[CallToolResult, TaskPage]:
        """List the user's tasks with filters; returns {tasks, next_cursor}."""
        user = current_user()
        page = await tasks.list_tasks(
            user=user,
            query=ListQuery(
                status=Status(status),
                priority=Priority(priority) if priority else None,
                tag=tag,
                query=query,
                due_before=due_before,
                due_after=due_after,
                overdue=overdue,
                sort=Sort(sort),
                limit=limit,
                cursor=cursor,
            ),
        )
        lines = [_line(t, user.timezone) for t in page.tasks]
        head = f"{len(page.tasks)} {status} task(s)" + (
            " (more: pass next_cursor)" if page.next_cursor else ""
        )
        return _result(page, "\n".join([head, *lines]))

    @mcp.tool(annotations=READ_ONLY)
    @_translate
    async def get_task(task_id: TaskId) -> Annotated[CallToolResult, TaskPublic]:
        """Get one task by id."""
        user = current_user()
        task = await tasks.get_task(user=user, task_id=task_id)
        return _result(task, _line(task, user.timezone))

    @mcp.tool(annotations=IDEMPOTENT)
    @_translate
    async def update_task(
        task_id: TaskId,
        title: Annotated[str | None, Field(min_length=1, max_length=TITLE_MAX)] = None,
        description: Annotated[
            str | None, Field(max_length=DESCRIPTION_MAX, description="New notes; '' clears.")
        ] = None,
        due: Annotated[
            str | None,
            Field(max_length=200, description="New due time (ISO or phrase); 'none' clears it."),
        ] = None,
        priority: Annotated[
            Literal["high", "medium", "low", "none"] | None,
            Field(description="high, medium, low, or none to clear."),
        ] = None,
        tags: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=TAG_MAX)]] | None,
            Field(max_length=TAGS_MAX, description="Replaces all tags; [] clears them."),
        ] = None,
        recurrence: Annotated[
            str | None,
            Field(max_length=500, description="New repeat rule (as in add_task); 'none' stops it."),
        ] = None,
        remind_before_minutes: RemindBefore = None,
    ) -> Annotated[CallToolResult, TaskPublic]:
        """Change fields of a task; omitted fields stay as they are. Rescheduling keeps the
        recurrence and re-arms reminders."""
        user = current_user()
        changes: dict[str, object] = {}
        if title is not None:
            changes["title"] = title
        if description is not None:
            changes["description"] = description or None
        if due is not None:
            changes["due"] = None if _cleared(due) else due
        if priority is not None:
            changes["priority"] = None if priority == "none" else priority
        if tags is not None:
            changes["tags"] = tags
        if recurrence is not None:
            changes["recurrence"] = None if _cleared(recurrence) else recurrence
        if remind_before_minutes is not None:
            changes["remind_before_minutes"] = remind_before_minutes
        data = parse_model(TaskUpdate, changes)
        task = await tasks.update_task(user=user, task_id=task_id, data=data)
        return _result(task, f"Updated {_line(task, user.timezone)}")

    @mcp.tool(annotations=IDEMPOTENT)
    @_translate
    async def complete_task(task_id: TaskId) -> Annotated[CallToolResult, CompletionPublic]:
        """Mark a task done; returns {task, next_occurrence} (the next one of a recurring task)."""
        user = current_user()
        done = await tasks.complete_task(user=user, task_id=task_id)
        text = f"Completed {_line(done.task, user.timezone)}"
        if done.next_occurrence:
            text += f"\nNext occurrence: {_line(done.next_occurrence, user.timezone)}"
        return _result(done, text)

    @mcp.tool(annotations=IDEMPOTENT)
    @_translate
    async def reopen_task(task_id: TaskId) -> Annotated[CallToolResult, TaskPublic]:
        """Mark a completed task as not done again."""
        user = current_user()
        task = await tasks.reopen_task(user=user, task_id=task_id)
        return _result(task, f"Reopened {_line(task, user.timezone)}")

    @mcp.tool(annotations=DESTRUCTIVE)
    @_translate
    async def delete_task(task_id: TaskId) -> Annotated[CallToolResult, TaskPublic]:
        """Delete a task (it can be brought back with restore_task)."""
        user = current_user()
        task = await tasks.delete_task(user=user, task_id=task_id)
        return _result(task, f"Deleted {_line(task, user.timezone)}; restore_task undoes it")

    @mcp.tool(annotations=IDEMPOTENT)
    @_translate
    async def restore_task(task_id: TaskId) -> Annotated[CallToolResult, TaskPublic]:
        """Bring back a deleted task."""
        user = current_user()
        task = await tasks.restore_task(user=user, task_id=task_id)
        return _result(task, f"Restored {_line(task, user.timezone)}")

    @mcp.tool(annotations=READ_ONLY)
    @_translate
    async def list_notifications(
        unread_only: Annotated[bool, Field(description="Only unread ones (default true).")] = True,
        limit: Annotated[int, Field(ge=1, le=200, description="At most this many (1-200).")] = 50,
    ) -> Annotated[CallToolResult, NotificationList]:
        """The user's notifications (reminders, due and overdue alerts), newest first."""
        user = current_user()
        items = await notifications.list_notifications(
            user=user, unread_only=unread_only, limit=limit
        )
        lines = [f"#{n.id} {n.title}" + ("" if n.read else " (unread)") for n in items]
        return _result(
            NotificationList(notifications=items),
            "\n".join([f"{len(items)} notification(s)", *lines]),
        )

    @mcp.tool(annotations=IDEMPOTENT)
    @_translate
    async def mark_notifications_read(
        notification_ids: Annotated[
            list[int] | None,
            Field(max_length=1000, description="Ids to mark read; omit to mark all read."),
        ] = None,
    ) -> Annotated[CallToolResult, Marked]:
        """Mark notifications as read."""
        user = current_user()
        count = await notifications.mark_read(user=user, notification_ids=notification_ids)
        return _result(Marked(marked=count), f"Marked {count} notification(s) read")

    return mcp
