"""Activity model family: Activity (table), ActivityPublic, ActivityPage, and ActivityQuery
(what a listing asks for), with their field rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict
from pydantic import Field as Rule
from sqlalchemy import JSON, BigInteger, Column, Index, Integer
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow
from server.projects.models import ProjectRef

LIMIT_MAX = 200

ActivityTask = Annotated[int | None, Rule(description="Only this task's activity.")]
ActivityProject = Annotated[
    ProjectRef | None, Rule(description="Only this project's activity (id or name).")
]
Since = Annotated[
    datetime | Annotated[str, Rule(max_length=200)] | None,
    Rule(description="Only changes at or after this time (ISO 8601 or a phrase: 'yesterday')."),
]
ActivityLimit = Annotated[int, Rule(ge=1, le=LIMIT_MAX, description="Page size (1-200).")]
ActivityCursor = Annotated[
    str | None, Rule(max_length=1000, description="next_cursor of the previous page.")
]


class Activity(SQLModel, table=True):
    """One change to a task or project, written in the transaction that made it."""

    __tablename__ = "activity"
    __table_args__ = (
        # Newest first, for the user, a task or a project; and the oldest first for pruning.
        Index("ix_activity_user", "user_id", "at", "id"),
        Index("ix_activity_task", "task_id", "at", "id"),
        Index("ix_activity_project", "project_id", "at", "id"),
        Index("ix_activity_at", "at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    user_id: int = Field(foreign_key="users.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    type: str = Field(max_length=32)
    task_id: int | None = None
    project_id: int | None = None
    # {field: [old, new]}
    changes: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ActivityPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    type: str
    task_id: int | None
    project_id: int | None
    changes: dict[str, list[Any]]


class ActivityPage(BaseModel):
    """One page of activity, newest first; pass `next_cursor` back for older changes."""

    events: list[ActivityPublic]
    next_cursor: str | None


class ActivityQuery(BaseModel):
    task_id: ActivityTask = None
    project: ActivityProject = None
    since: Since = None
    limit: ActivityLimit = 50
    cursor: ActivityCursor = None
