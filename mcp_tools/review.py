"""Looking back and ahead: what changed (list_activity) and what to do next (whats_next)."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult

from mcp_tools.results import READ_ONLY, acting, result, task_line, translated
from server.activity.models import (
    ActivityCursor,
    ActivityLimit,
    ActivityPage,
    ActivityProject,
    ActivityQuery,
    ActivityTask,
    Since,
)
from server.tasks.models import NextLimit, NextTasks


@translated
async def list_activity(
    ctx: Context,
    task_id: ActivityTask = None,
    project: ActivityProject = None,
    since: Since = None,
    limit: ActivityLimit = 50,
    cursor: ActivityCursor = None,
) -> Annotated[CallToolResult, ActivityPage]:
    """What changed in the user's tasks and projects, newest first: each entry has its type,
    the task or project, and the changed fields as {field: [old, new]}."""
    services, user = acting(ctx)
    query = ActivityQuery(task_id=task_id, project=project, since=since, limit=limit, cursor=cursor)
    page = await services.activity.list_activity(user=user, query=query)
    lines = []
    for entry in page.events:
        about = f"task #{entry.task_id}" if entry.task_id else f"project #{entry.project_id}"
        fields = ", ".join(entry.changes) or "no fields"
        lines.append(f"{entry.at:%Y-%m-%d %H:%M} UTC {entry.type} {about}: {fields}")
    head = f"{len(lines)} change(s)" + (" (more: pass next_cursor)" if page.next_cursor else "")
    return result(page, "\n".join([head, *lines]))


@translated
async def whats_next(ctx: Context, limit: NextLimit = 5) -> Annotated[CallToolResult, NextTasks]:
    """What to work on next: the most pressing open tasks, ranked the same way every time
    (overdue, due today, due soon, then priority, then open subtasks waiting on them), each
    with its reasons in words."""
    services, user = acting(ctx)
    ranked = await services.tasks.whats_next(user=user, limit=limit)
    names = await services.projects.names(user=user)
    lines = [
        f"{index}. {task_line(item.task, user.timezone, names)}: {'; '.join(item.reasons)}"
        for index, item in enumerate(ranked.tasks, start=1)
    ]
    return result(ranked, "\n".join([f"{len(lines)} task(s) to do next", *lines]))


def register(mcp: MCPServer) -> None:
    mcp.add_tool(list_activity, annotations=READ_ONLY)
    mcp.add_tool(whats_next, annotations=READ_ONLY)
