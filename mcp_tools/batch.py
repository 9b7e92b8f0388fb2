"""The batch tools: up to 50 tasks in one call, all or nothing.

Each runs in one transaction (one event per task); one bad item changes nothing, and the
error names the item and the field (`tasks[3].due: ...`). A client that sends a progress
token is told as each item is done, then when all are saved; deleting more than 5 tasks
asks the user first when the client can be asked (mcp_tools/confirm.py). The items are
checked here rather than by the SDK's argument validation, so that the error says which
item; their published schema is still the full one.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Resolve
from mcp_types import CallToolResult
from pydantic import Field

from mcp_tools.confirm import (
    Answer,
    confirm_tasks_deletion,
    confirmed,
    declined_text,
    progress_of,
)
from mcp_tools.results import (
    ADDITIVE,
    DESTRUCTIVE,
    IDEMPOTENT,
    acting,
    result,
    task_lines,
    translated,
)
from mcp_tools.tasks import TaskEdit, TaskId
from server.tasks.models import BATCH_MAX, BatchCompletion, NewTask, TaskChange, TaskList
from server.validation import inline_schema, parse_each


class TaskEditItem(TaskEdit):
    """One item of update_tasks: the task and the fields to change."""

    task_id: TaskId


def items_of(model: type, description: str) -> Any:
    return Annotated[
        list[dict[str, Any]],
        Field(
            min_length=1,
            max_length=BATCH_MAX,
            description=description,
            json_schema_extra={"items": inline_schema(model)},
        ),
    ]


NewTasks = items_of(
    NewTask,
    "1-50 tasks, each with add_task's parameters (title required), e.g. "
    "[{'title': 'Buy milk', 'project': 'Errands'}, {'title': 'Call mum', 'due': 'friday 6pm'}].",
)
Updates = items_of(
    TaskEditItem,
    "1-50 changes, each a task_id and update_task's parameters, e.g. "
    "[{'task_id': 4, 'project': 'Errands'}, {'task_id': 7, 'due': 'saturday 10am'}].",
)
TaskIds = Annotated[
    list[int], Field(min_length=1, max_length=BATCH_MAX, description="1-50 task ids.")
]


@translated
async def add_tasks(ctx: Context, tasks: NewTasks) -> Annotated[CallToolResult, TaskList]:
    """Add several tasks in one go (all or none)."""
    services, user = acting(ctx)
    items = parse_each(NewTask, tasks, "tasks")
    report, steps = progress_of(ctx, len(items))
    created = await services.tasks.create_tasks(user=user, items=items, progress=report)
    await report(steps)
    lines = task_lines(created, user.timezone, await services.projects.names(user=user))
    return result(TaskList(tasks=created), "\n".join([f"Added {len(created)} task(s)", *lines]))


@translated
async def update_tasks(ctx: Context, updates: Updates) -> Annotated[CallToolResult, TaskList]:
    """Change several tasks in one go (all or none), e.g. move them to another project or
    reschedule them."""
    services, user = acting(ctx)
    edits = parse_each(TaskEditItem, updates, "updates")
    changes = parse_each(
        TaskChange, [{"task_id": e.task_id, **e.changes()} for e in edits], "updates"
    )
    report, steps = progress_of(ctx, len(changes))
    changed = await services.tasks.update_tasks(user=user, items=changes, progress=report)
    await report(steps)
    lines = task_lines(changed, user.timezone, await services.projects.names(user=user))
    return result(TaskList(tasks=changed), "\n".join([f"Updated {len(changed)} task(s)", *lines]))


@translated
async def complete_tasks(
    ctx: Context, task_ids: TaskIds
) -> Annotated[CallToolResult, BatchCompletion]:
    """Complete several tasks (and their open subtasks) in one go; returns the next
    occurrences of the recurring ones."""
    services, user = acting(ctx)
    report, steps = progress_of(ctx, len(task_ids))
    done = await services.tasks.complete_tasks(user=user, task_ids=task_ids, progress=report)
    await report(steps)
    names = await services.projects.names(user=user)
    lines = task_lines(done.tasks, user.timezone, names)
    if done.next_occurrences:
        lines += ["Next occurrences:", *task_lines(done.next_occurrences, user.timezone, names)]
    return result(done, "\n".join([f"Completed {len(done.tasks)} task(s)", *lines]))


@translated
async def delete_tasks(
    ctx: Context,
    task_ids: TaskIds,
    answer: Annotated[Answer, Resolve(confirm_tasks_deletion)],
) -> Annotated[CallToolResult, TaskList]:
    """Delete several tasks (with their subtasks) in one go; restore_task brings each back.
    Deleting more than 5 asks the user to confirm first, when the client can ask."""
    services, user = acting(ctx)
    if not confirmed(answer):
        what = f"{len(set(task_ids))} tasks"
        return result(TaskList(tasks=[]), declined_text(what, answer))
    report, steps = progress_of(ctx, len(task_ids))
    gone = await services.tasks.delete_tasks(user=user, task_ids=task_ids, progress=report)
    await report(steps)
    lines = task_lines(gone, user.timezone, await services.projects.names(user=user))
    return result(TaskList(tasks=gone), "\n".join([f"Deleted {len(gone)} task(s)", *lines]))


def register(mcp: MCPServer) -> None:
    for tool, hints in (
        (add_tasks, ADDITIVE),
        (update_tasks, IDEMPOTENT),
        (complete_tasks, IDEMPOTENT),
        (delete_tasks, DESTRUCTIVE),
    ):
        mcp.add_tool(tool, annotations=hints)
