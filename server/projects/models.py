"""Project model family: the field rules (once), ProjectCreate, ProjectUpdate, Project (table),
ProjectPublic and what the project operations return.

As for tasks (server/tasks/models.py), each rule is an annotated type used by the request
models, the MCP tools' parameters and the REST routes alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict
from pydantic import Field as Rule
from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow

NAME_MAX = 120
COLOR_MAX = 7
INBOX = "Inbox"

# -- the field rules ------------------------------------------------------------------------

ProjectName = Annotated[
    str,
    Rule(
        min_length=1,
        max_length=NAME_MAX,
        description="The project's name, e.g. 'Errands' (1-120 characters, unique ignoring case).",
    ),
]
Color = Annotated[
    str | None,
    Rule(
        pattern=r"^#[0-9a-fA-F]{6}$",
        description="Optional colour as #rrggbb, e.g. '#e05d44'.",
    ),
]
Archived = Annotated[
    bool | None,
    Rule(
        description="true archives the project: its tasks leave the default listings and raise "
        "no alerts; false brings it back. The Inbox cannot be archived."
    ),
]
IncludeArchived = Annotated[bool, Rule(description="Also list archived projects (default false).")]
# A project named by a client: its id, or its name matched ignoring case.
ProjectRef = Annotated[
    int | Annotated[str, Rule(min_length=1, max_length=NAME_MAX)],
    Rule(description="A project id, or a project name matched ignoring case, e.g. 'Errands'."),
]


# -- requests -------------------------------------------------------------------------------


class ProjectCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")

    name: ProjectName
    color: Color = None


class ProjectUpdate(SQLModel):
    """All optional; only the fields a client sends change (a null colour clears it)."""

    model_config = ConfigDict(extra="forbid")

    name: ProjectName | None = None
    color: Color = None
    archived: Archived = None


# -- storage and results --------------------------------------------------------------------


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    __table_args__ = (
        # A name is taken once per user, ignoring case, among the projects not deleted; the
        # same index finds a project by name.
        Index(
            "uq_projects_user_name",
            "user_id",
            text("lower(name)"),
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # One Inbox per user.
        Index(
            "uq_projects_inbox",
            "user_id",
            unique=True,
            sqlite_where=text("inbox"),
            postgresql_where=text("inbox"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    name: str = Field(max_length=NAME_MAX)
    color: str | None = Field(default=None, max_length=COLOR_MAX)
    inbox: bool = False
    archived: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ProjectPublic(BaseModel):
    """A project as it leaves the service, with how many open tasks it holds."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    color: str | None
    inbox: bool
    archived: bool
    open_tasks: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class ProjectList(BaseModel):
    projects: list[ProjectPublic]


class ProjectChange(BaseModel):
    """A deleted or restored project and the ids of the tasks that went (or came back) with it."""

    project: ProjectPublic
    task_ids: list[int]
