"""Task model family: TaskBase, TaskCreate, TaskUpdate, Task (table), TaskPublic."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow

TITLE_MAX = 500
DESCRIPTION_MAX = 10_000
TAGS_MAX = 20
TAG_MAX = 50
REMIND_MAX_MINUTES = 60 * 24 * 365
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


class TaskInput(SQLModel):
    """Fields a client may set on a task; `due` may be ISO 8601 or natural language."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    due: datetime | str | None = None
    priority: Priority | None = None
    tags: list[str] | None = Field(default=None, max_length=TAGS_MAX)
    recurrence: str | None = Field(default=None, max_length=500)
    remind_before_minutes: int | None = Field(default=None, ge=0, le=REMIND_MAX_MINUTES)


class TaskCreate(TaskInput):
    title: str = Field(min_length=1, max_length=TITLE_MAX)


class TaskUpdate(TaskInput):
    """All optional; only the fields a client sends are changed (null clears a field)."""

    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)


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
        Index("ix_tasks_user_updated", "user_id", "updated_at"),
        Index("ix_tasks_next_alert", "next_alert_at"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_tasks_user_idempotency"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
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
    remind_before_minutes: int | None = None
    recurrence: str | None = Field(default=None, max_length=500)
    series_id: str | None = Field(default=None, max_length=36, index=True)
    # The occurrence this one follows; unique, so a completion yields one next occurrence.
    occurrence_of: int | None = Field(default=None, unique=True)
    idempotency_key: str | None = Field(default=None, max_length=200)
    next_alert_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_alert: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


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
    recurrence: str | None
    series_id: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class TaskPage(BaseModel):
    """One page of a task listing; pass `next_cursor` back to get the next page."""

    tasks: list[TaskPublic]
    next_cursor: str | None


class CompletionPublic(BaseModel):
    """A completed task and, for a recurring one, its next occurrence."""

    task: TaskPublic
    next_occurrence: TaskPublic | None


class TaskAlert(SQLModel, table=True):
    """One fired deadline alert; the unique key makes each alert fire once per due time."""

    __tablename__ = "task_alerts"
    __table_args__ = (UniqueConstraint("task_id", "kind", "due", name="uq_task_alerts_key"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    kind: str = Field(max_length=16)
    due: datetime = Field(sa_type=UTCDateTime)
    fired_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
