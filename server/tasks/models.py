"""Task model family: the field rules (once), TaskBase, TaskCreate, TaskUpdate, Task (table),
TaskPublic, TaskQuery (what a listing asks for) and the batch and ranking results.

Each rule of a task field is written once, as an annotated type below. The request models,
the MCP tools' parameters and the REST query parameters are all declared with these types,
so a limit changes in one place and every edge (and its published schema) follows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as Rule
from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow
from server.projects.models import ProjectRef
from server.tasks.reminders import REMIND_MAX_MINUTES, ReminderPublic, Reminders

TITLE_MAX = 500
DESCRIPTION_MAX = 10_000
TAGS_MAX = 20
TAG_MAX = 50
RECURRENCE_MAX = 500
DATE_TEXT_MAX = 200
LIST_LIMIT_MAX = 200
BATCH_MAX = 50
# Subtasks nest at most this deep: a task, its subtasks, theirs, and one level more.
DEPTH_MAX = 4
# Tasks without a due date sort after every dated one.
NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)


class Priority(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


class AlertKind(StrEnum):
    """The deadline stages of a task, in the order they fire."""

    reminder = "reminder"
    due = "due"
    overdue = "overdue"


class Status(StrEnum):
    pending = "pending"
    completed = "completed"
    all = "all"
    deleted = "deleted"


class Sort(StrEnum):
    due = "due"
    priority = "priority"
    created = "created"
    title = "title"


# -- the field rules ------------------------------------------------------------------------
# Each rule is a type; all but `Title`, `StatusName`, `SortName` and `Limit` are optional
# fields (`... | None`), so their description sits on the field itself in every schema.

Title = Annotated[
    str,
    Rule(min_length=1, max_length=TITLE_MAX, description="Short title, e.g. 'Call the dentist'."),
]
Description = Annotated[
    str | None, Rule(max_length=DESCRIPTION_MAX, description="Optional longer notes.")
]
DateText = Annotated[
    str | None,
    Rule(
        max_length=DATE_TEXT_MAX,
        description="When it is due: ISO 8601 ('2026-11-23T17:00') or a phrase ('tomorrow 5pm', "
        "'next monday'); no offset means the user's timezone.",
    ),
]
# Literals rather than the enums where a client reads the schema: they stay inline in it.
PriorityName = Annotated[
    Literal["high", "medium", "low"] | None, Rule(description="high, medium or low.")
]
Tag = Annotated[str, Rule(min_length=1, max_length=TAG_MAX)]
Tags = Annotated[
    list[Tag] | None,
    Rule(max_length=TAGS_MAX, description="Labels such as ['work', 'errands'] (at most 20)."),
]
Recurrence = Annotated[
    str | None,
    Rule(
        max_length=RECURRENCE_MAX,
        description="Repeat rule: daily, weekly, monthly, yearly, or an RFC 5545 RRULE such as "
        "'FREQ=WEEKLY;BYDAY=MO'. The next occurrence is created when this one is completed.",
    ),
]
RemindBefore = Annotated[
    int | None,
    Rule(
        ge=0,
        le=REMIND_MAX_MINUTES,
        description="Shorthand for one reminder this many minutes before `due` (replaces the "
        "task's reminders; 0 for none; omitted on a new task: the default reminder).",
    ),
]
TaskProject = Annotated[
    ProjectRef | None,
    Rule(
        description="The project: its id or its name (ignoring case). New tasks go to the "
        "Inbox, or to their parent's project; moving a task moves its subtasks.",
    ),
]
ParentId = Annotated[
    int | None,
    Rule(
        description="Make it a subtask of this task (same project; at most 4 levels deep).",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Rule(
        max_length=200,
        description="Optional unique key; repeating a call with the same key and arguments "
        "returns the task it first created instead of adding a duplicate (other arguments with "
        "a used key are refused).",
    ),
]
StatusName = Annotated[
    Literal["pending", "completed", "all", "deleted"],
    Rule(description="pending (default), completed, all, or deleted (restorable)."),
]
SortName = Annotated[
    Literal["due", "priority", "created", "title"],
    Rule(description="due (default, soonest first), priority, created (newest), title."),
]
Limit = Annotated[int, Rule(ge=1, le=LIST_LIMIT_MAX, description="Page size (1-200).")]
TagFilter = Annotated[str | None, Rule(max_length=TAG_MAX, description="Only this tag.")]
DueBefore = Annotated[DateText, Rule(description="Due before this time (ISO or phrase).")]
DueAfter = Annotated[DateText, Rule(description="Due after this time (ISO or phrase).")]
Overdue = Annotated[
    bool | None, Rule(description="true: only unfinished tasks past their due time.")
]
SearchText = Annotated[
    str | None,
    Rule(max_length=DATE_TEXT_MAX, description="Words to find in the title or description."),
]
Cursor = Annotated[
    str | None, Rule(max_length=1000, description="next_cursor of the previous page.")
]
ProjectFilter = Annotated[
    ProjectRef | None, Rule(description="Only this project's tasks (id or name), archived or not.")
]
ParentFilter = Annotated[int | None, Rule(description="Only the subtasks of this task.")]
NextLimit = Annotated[int, Rule(ge=1, le=50, description="How many tasks (1-50, default 5).")]


# -- requests -------------------------------------------------------------------------------


class TaskBase(SQLModel):
    """Fields a client may set on a task; `due` may be ISO 8601 or natural language.

    The table (`Task`) does not inherit these: it stores the resolved forms (a UTC `due`,
    the priority's text and rank, normalised tags).
    """

    model_config = ConfigDict(extra="forbid")

    description: Description = None
    due: datetime | DateText = None
    priority: Priority | None = None
    tags: Tags = None
    recurrence: Recurrence = None
    remind_before_minutes: RemindBefore = None
    project: TaskProject = None
    parent_id: ParentId = None
    reminders: Reminders = None


class TaskCreate(TaskBase):
    title: Title


class TaskUpdate(TaskBase):
    """All optional; only the fields a client sends are changed (null clears a field)."""

    title: Title | None = None


class NewTask(TaskCreate):
    """One item of a batch of new tasks: the fields of a task and its idempotency key."""

    idempotency_key: IdempotencyKey = None


class TaskChange(TaskUpdate):
    """One item of a batch of updates: the task and the fields to change."""

    task_id: int

    def changes(self) -> dict[str, Any]:
        return self.model_dump(include=self.model_fields_set - {"task_id"})


class TaskQuery(BaseModel):
    """One listing's filters, sort and page: REST reads it from the query string, the
    `list_tasks` tool from its arguments."""

    status: StatusName = "pending"
    priority: Priority | None = None
    tag: TagFilter = None
    query: SearchText = None
    due_before: datetime | DueBefore = None
    due_after: datetime | DueAfter = None
    overdue: Overdue = None
    project: ProjectFilter = None
    parent_id: ParentFilter = None
    sort: SortName = "due"
    limit: Limit = 50
    cursor: Cursor = None


# -- storage and results --------------------------------------------------------------------


# A partial index's condition: the deleted tasks only.
DELETED_ONLY = {
    "sqlite_where": text("deleted_at IS NOT NULL"),
    "postgresql_where": text("deleted_at IS NOT NULL"),
}


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        # Listings filter on (user, not deleted, completed) and read in sort order from these.
        Index("ix_tasks_list_due", "user_id", "deleted_at", "completed", "due_sort", "id"),
        Index(
            "ix_tasks_list_priority",
            "user_id",
            "deleted_at",
            "completed",
            "priority_rank",
            "due_sort",
            "id",
        ),
        Index("ix_tasks_list_created", "user_id", "deleted_at", "completed", "created_at", "id"),
        Index(
            "ix_tasks_list_title", "user_id", "deleted_at", "completed", text("lower(title)"), "id"
        ),
        # `status=all`: the same orders over pending and completed tasks together.
        Index("ix_tasks_all_due", "user_id", "deleted_at", "due_sort", "id"),
        Index("ix_tasks_all_priority", "user_id", "deleted_at", "priority_rank", "due_sort", "id"),
        Index("ix_tasks_all_created", "user_id", "deleted_at", "created_at", "id"),
        Index("ix_tasks_all_title", "user_id", "deleted_at", text("lower(title)"), "id"),
        # The trash (`status=deleted`): the same orders over the deleted tasks alone.
        Index("ix_tasks_trash_due", "user_id", "due_sort", "id", **DELETED_ONLY),
        Index(
            "ix_tasks_trash_priority", "user_id", "priority_rank", "due_sort", "id", **DELETED_ONLY
        ),
        Index("ix_tasks_trash_created", "user_id", "created_at", "id", **DELETED_ONLY),
        Index("ix_tasks_trash_title", "user_id", text("lower(title)"), "id", **DELETED_ONLY),
        Index("ix_tasks_user_updated", "user_id", "updated_at"),
        Index("ix_tasks_next_alert", "next_alert_at"),
        # One project's tasks, and one task's subtasks (and their open count), in due order.
        Index("ix_tasks_project_list", "project_id", "deleted_at", "completed", "due_sort", "id"),
        Index("ix_tasks_parent_list", "parent_id", "deleted_at", "completed", "due_sort", "id"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_tasks_user_idempotency"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    project_id: int = Field(foreign_key="projects.id")
    parent_id: int | None = Field(default=None, foreign_key="tasks.id")
    title: str = Field(max_length=TITLE_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    completed: bool = False
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    priority: str | None = Field(default=None, max_length=8)
    # 1 = high, 2 = medium, 3 = low, 4 = none: sorts by priority with one index-friendly int.
    priority_rank: int = 4
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # "|tag1|tag2|" lower-cased, so a tag filter is one LIKE on the user's rows.
    tags_key: str = Field(default="|", max_length=1100)
    due: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # `due`, or NO_DUE when there is none: a non-null sort key every engine orders the same way.
    due_sort: datetime = Field(default=NO_DUE, sa_type=UTCDateTime)
    # Its reminders (server/tasks/reminders.py), read and written with the task.
    reminders: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    recurrence: str | None = Field(default=None, max_length=RECURRENCE_MAX)
    series_id: str | None = Field(default=None, max_length=36, index=True)
    # The occurrence this one follows; unique, so a completion yields one next occurrence.
    occurrence_of: int | None = Field(default=None, unique=True)
    idempotency_key: str | None = Field(default=None, max_length=200)
    # SHA-256 of the request that used the key (server/tasks/idempotency.py).
    idempotency_fingerprint: str | None = Field(default=None, max_length=64)
    next_alert_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The due-time stage fired last for the current due (due | overdue); reminders keep their
    # own state (server/tasks/reminders.py).
    last_alert: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What deleted it: "task:<id>" (itself or its parent) or "project:<id>"; restoring that
    # brings back exactly the tasks deleted with it.
    deleted_with: str | None = Field(default=None, max_length=32)


# What leaves the service is plain pydantic: it is built for every listed task, and SQLModel's
# validation wrapper costs twice as much as pydantic's own.
class TaskPublic(BaseModel):
    """A task as it leaves the service (tools, REST, events)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    completed: bool
    completed_at: datetime | None
    priority: Priority | None
    tags: list[str]
    due: datetime | None
    remind_before_minutes: int | None
    reminders: list[ReminderPublic]
    recurrence: str | None
    series_id: str | None
    project_id: int
    parent_id: int | None
    open_subtasks: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class TaskPage(BaseModel):
    """One page of a task listing; pass `next_cursor` back to get the next page."""

    tasks: list[TaskPublic]
    next_cursor: str | None


class CompletionPublic(BaseModel):
    """A completed task and, for a recurring one, its next occurrence (or why there is none:
    the series ended, or its rule cannot be expanded any further)."""

    task: TaskPublic
    next_occurrence: TaskPublic | None
    recurrence_note: str | None = None


class TaskList(BaseModel):
    """The tasks a batch tool changed, in the order asked."""

    tasks: list[TaskPublic]


class BatchCompletion(BaseModel):
    """Completed tasks and the next occurrences of the recurring ones."""

    tasks: list[TaskPublic]
    next_occurrences: list[TaskPublic]


class RankedTask(BaseModel):
    task: TaskPublic
    reasons: list[str]


class NextTasks(BaseModel):
    """What to do next, most pressing first, each with why."""

    tasks: list[RankedTask]


class TaskAlert(SQLModel, table=True):
    """One fired deadline alert; the unique key makes each fire once: a stage ("due",
    "overdue", "reminder:<id>") at one fire time (a new due time moves it)."""

    __tablename__ = "task_alerts"
    __table_args__ = (UniqueConstraint("task_id", "stage", "fire_at", name="uq_task_alerts_stage"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    stage: str = Field(max_length=24)
    fire_at: datetime = Field(sa_type=UTCDateTime)
    fired_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
