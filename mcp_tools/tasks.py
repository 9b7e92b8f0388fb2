"""The task tools: thin translations from MCP arguments onto the task service.

Parameter types come from server/tasks/models.py, where each field's rule is written once;
only what is particular to a tool (update's ways of clearing a field, `TaskEdit`, which the
batch tools share) is declared here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field

from mcp_tools.results import (
    ADDITIVE,
    DESTRUCTIVE,
    IDEMPOTENT,
    READ_ONLY,
    acting,
    result,
    task_line,
    task_lines,
    translated,
)
from server.tasks.models import (
    CompletionPublic,
    Cursor,
    DateText,
    Description,
    DueAfter,
    DueBefore,
    IdempotencyKey,
    Limit,
    Overdue,
    ParentFilter,
    ParentId,
    PriorityName,
    ProjectFilter,
    Recurrence,
    RemindBefore,
    SearchText,
    SortName,
    StatusName,
    TagFilter,
    Tags,
    TaskCreate,
    TaskPage,
    TaskProject,
    TaskPublic,
    TaskQuery,
    TaskUpdate,
    Title,
)
from server.tasks.reminders import Reminders
from server.validation import parse_model

TaskId = Annotated[int, Field(description="The task's id, as returned by list_tasks or add_task.")]
NewDescription = Annotated[Description, Field(description="New notes; '' clears.")]
NewDue = Annotated[DateText, Field(description="New due time (ISO or phrase); 'none' clears it.")]
NewPriority = Annotated[
    Literal["high", "medium", "low", "none"] | None,
    Field(description="high, medium, low, or none to clear."),
]
NewTags = Annotated[Tags, Field(description="Replaces all tags; [] clears them.")]
NewRecurrence = Annotated[
    Recurrence, Field(description="New repeat rule (as in add_task); 'none' stops it.")
]
NewProject = Annotated[
    TaskProject, Field(description="Move it (with its subtasks) to this project: id or name.")
]
NewParent = Annotated[
    int | None,
    Field(ge=0, description="Make it a subtask of this task (same project); 0: a top-level task."),
]
NewReminders = Annotated[
    Reminders,
    Field(
        description="Replaces its reminders: up to 5 of {'before_minutes': N} or {'at': time}; "
        "[] removes them all."
    ),
]


def _cleared(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("", "none", "null")


class TaskEdit(BaseModel):
    """The fields update_task (and each item of update_tasks) may change; omitted ones stay."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: NewDescription = None
    due: NewDue = None
    priority: NewPriority = None
    tags: NewTags = None
    recurrence: NewRecurrence = None
    remind_before_minutes: RemindBefore = None
    project: NewProject = None
    parent_id: NewParent = None
    reminders: NewReminders = None

    def changes(self) -> dict[str, object]:
        """The change as the task service takes it (the ways of clearing a field resolved)."""
        changes: dict[str, object] = {}
        if self.title is not None:
            changes["title"] = self.title
        if self.description is not None:
            changes["description"] = self.description or None
        if self.due is not None:
            changes["due"] = None if _cleared(self.due) else self.due
        if self.priority is not None:
            changes["priority"] = None if self.priority == "none" else self.priority
        if self.recurrence is not None:
            changes["recurrence"] = None if _cleared(self.recurrence) else self.recurrence
        if self.parent_id is not None:
            changes["parent_id"] = self.parent_id or None
        for name in ("tags", "remind_before_minutes", "project", "reminders"):
            if getattr(self, name) is not None:
                changes[name] = getattr(self, name)
        return changes


@translated
async def add_task(
    ctx: Context,
    title: Title,
    description: Description = None,
    due: DateText = None,
    priority: PriorityName = None,
    tags: Tags = None,
    recurrence: Recurrence = None,
    remind_before_minutes: RemindBefore = None,
    project: TaskProject = None,
    parent_id: ParentId = None,
    reminders: Reminders = None,
    idempotency_key: IdempotencyKey = None,
) -> Annotated[CallToolResult, TaskPublic]:
    """Add a task (to the Inbox unless a project is given; a subtask joins its parent's
    project). To add several at once, use add_tasks."""
    services, user = acting(ctx)
    given = {
        "title": title,
        "description": description,
        "due": due,
        "priority": priority,
        "tags": tags,
        "recurrence": recurrence,
        "remind_before_minutes": remind_before_minutes,
        "project": project,
        "parent_id": parent_id,
        "reminders": reminders,
    }
    data = parse_model(TaskCreate, {k: v for k, v in given.items() if v is not None})
    task, names = await services.tasks.create_task_with_names(
        user=user, data=data, idempotency_key=idempotency_key
    )
    return result(task, f"Added {task_line(task, user.timezone, names)}")


@translated
async def list_tasks(
    ctx: Context,
    status: StatusName = "pending",
    priority: PriorityName = None,
    tag: TagFilter = None,
    query: SearchText = None,
    due_before: DueBefore = None,
    due_after: DueAfter = None,
    overdue: Overdue = None,
    project: ProjectFilter = None,
    parent_id: ParentFilter = None,
    sort: SortName = "due",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, TaskPage]:
    """List the user's tasks with filters; returns {tasks, next_cursor}. Tasks of archived
    projects show only when that project is asked for; each task says how many open
    subtasks it has."""
    services, user = acting(ctx)
    page, names = await services.tasks.list_tasks_with_names(
        user=user,
        query=TaskQuery(
            status=status,
            priority=priority,
            tag=tag,
            query=query,
            due_before=due_before,
            due_after=due_after,
            overdue=overdue,
            project=project,
            parent_id=parent_id,
            sort=sort,
            limit=limit,
            cursor=cursor,
        ),
    )
    lines = task_lines(page.tasks, user.timezone, names)
    head = f"{len(page.tasks)} {status} task(s)" + (
        " (more: pass next_cursor)" if page.next_cursor else ""
    )
    return result(page, "\n".join([head, *lines]))


@translated
async def get_task(ctx: Context, task_id: TaskId) -> Annotated[CallToolResult, TaskPublic]:
    """Get one task by id."""
    services, user = acting(ctx)
    task, names = await services.tasks.get_task_with_names(user=user, task_id=task_id)
    return result(task, task_line(task, user.timezone, names))


@translated
async def update_task(
    ctx: Context,
    task_id: TaskId,
    title: Title | None = None,
    description: NewDescription = None,
    due: NewDue = None,
    priority: NewPriority = None,
    tags: NewTags = None,
    recurrence: NewRecurrence = None,
    remind_before_minutes: RemindBefore = None,
    project: NewProject = None,
    parent_id: NewParent = None,
    reminders: NewReminders = None,
) -> Annotated[CallToolResult, TaskPublic]:
    """Change fields of a task; omitted fields stay as they are. Rescheduling keeps the
    recurrence and re-arms reminders; moving a task moves its subtasks. To change several
    tasks at once, use update_tasks."""
    services, user = acting(ctx)
    edit = TaskEdit(
        title=title,
        description=description,
        due=due,
        priority=priority,
        tags=tags,
        recurrence=recurrence,
        remind_before_minutes=remind_before_minutes,
        project=project,
        parent_id=parent_id,
        reminders=reminders,
    )
    data = parse_model(TaskUpdate, edit.changes())
    task = await services.tasks.update_task(user=user, task_id=task_id, data=data)
    names = await services.projects.names(user=user)
    return result(task, f"Updated {task_line(task, user.timezone, names)}")


@translated
async def complete_task(
    ctx: Context, task_id: TaskId
) -> Annotated[CallToolResult, CompletionPublic]:
    """Mark a task done, with its open subtasks; returns {task, next_occurrence} (the next one
    of a recurring task)."""
    services, user = acting(ctx)
    done = await services.tasks.complete_task(user=user, task_id=task_id)
    text = f"Completed {task_line(done.task, user.timezone)}"
    if done.next_occurrence:
        text += f"\nNext occurrence: {task_line(done.next_occurrence, user.timezone)}"
    elif done.recurrence_note:
        text += f"\n{done.recurrence_note}"
    return result(done, text)


@translated
async def reopen_task(ctx: Context, task_id: TaskId) -> Annotated[CallToolResult, TaskPublic]:
    """Mark a completed task as not done again."""
    services, user = acting(ctx)
    task = await services.tasks.reopen_task(user=user, task_id=task_id)
    return result(task, f"Reopened {task_line(task, user.timezone)}")


@translated
async def delete_task(ctx: Context, task_id: TaskId) -> Annotated[CallToolResult, TaskPublic]:
    """Delete a task with its subtasks (restore_task brings them back)."""
    services, user = acting(ctx)
    task = await services.tasks.delete_task(user=user, task_id=task_id)
    return result(task, f"Deleted {task_line(task, user.timezone)}; restore_task undoes it")


@translated
async def restore_task(ctx: Context, task_id: TaskId) -> Annotated[CallToolResult, TaskPublic]:
    """Bring back a deleted task and the subtasks deleted with it."""
    services, user = acting(ctx)
    task = await services.tasks.restore_task(user=user, task_id=task_id)
    return result(task, f"Restored {task_line(task, user.timezone)}")


def register(mcp: MCPServer) -> None:
    for tool, hints in (
        (add_task, ADDITIVE),
        (list_tasks, READ_ONLY),
        (get_task, READ_ONLY),
        (update_task, IDEMPOTENT),
        (complete_task, IDEMPOTENT),
        (reopen_task, IDEMPOTENT),
        (delete_task, DESTRUCTIVE),
        (restore_task, IDEMPOTENT),
    ):
        mcp.add_tool(tool, annotations=hints)
