"""The export document (format `todo-agent`, version 1) and what an import is made of.

`ExportDocument` is the JSON `GET /api/export` and `todo-agent export` write and `todo-agent
import` reads back: the user's profile and settings, every project and every task (deleted
ones included, so the trash survives the move), each task with its reminders and comments.
Ids in it are the exporting database's; they only tie the document together (a task's
`project_id`, `parent_id`, `occurrence_of`), and an import gives everything new ids.

`Plan` is an import whatever file it came from (this document or a Todoist CSV,
server/portability/todoist.py): server/portability/importer.py writes a plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

FORMAT = "todo-agent"
VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReminderDoc(_Strict):
    before_minutes: int | None = None
    at: AwareDatetime | None = None
    fired: bool = False


class CommentDoc(_Strict):
    text: str
    created_at: AwareDatetime


class TaskDoc(_Strict):
    id: int
    project_id: int
    parent_id: int | None = None
    title: str
    description: str | None = None
    completed: bool = False
    completed_at: AwareDatetime | None = None
    priority: Literal["high", "medium", "low"] | None = None
    tags: list[str] = []
    due: AwareDatetime | None = None
    recurrence: str | None = None
    series_id: str | None = None
    # The task this one is the next occurrence of.
    occurrence_of: int | None = None
    reminders: list[ReminderDoc] = []
    # The due-time alert fired last for the current due: "due", "overdue" or none.
    last_alert: Literal["due", "overdue"] | None = None
    created_at: AwareDatetime
    deleted_at: AwareDatetime | None = None
    # What deleted it: "task:<id>" (itself or a parent) or "project:<id>".
    deleted_with: str | None = None
    comments: list[CommentDoc] = []


class ProjectDoc(_Strict):
    id: int
    name: str
    color: str | None = None
    inbox: bool = False
    archived: bool = False
    created_at: AwareDatetime
    deleted_at: AwareDatetime | None = None


class UserDoc(_Strict):
    name: str
    email: str | None = None
    timezone: str = "UTC"


class ExportDocument(_Strict):
    format: Literal["todo-agent"]
    version: int
    exported_at: AwareDatetime
    user: UserDoc
    # Named settings (server/users/settings.py) that are not secrets.
    settings: dict[str, str] = {}
    projects: list[ProjectDoc]
    tasks: list[TaskDoc]


# -- an import, whatever its file -----------------------------------------------------------


@dataclass(slots=True)
class PlannedReminder:
    spec: dict[str, Any]  # {"before_minutes": N} or {"at": datetime}
    fired: bool = False


@dataclass(slots=True)
class PlannedComment:
    text: str
    created_at: datetime | None = None


@dataclass(slots=True)
class PlannedProject:
    key: int  # its id in the file
    origin: str  # how an error names it: "projects[2]", "row 14"
    name: str
    color: str | None = None
    inbox: bool = False
    archived: bool = False
    created_at: datetime | None = None
    deleted_at: datetime | None = None


@dataclass(slots=True)
class PlannedTask:
    key: int
    origin: str
    project_key: int
    # The fields of a new task (TaskCreate) but its project, parent and reminders.
    fields: dict[str, Any]
    parent_key: int | None = None
    # None: the default reminder a new task gets.
    reminders: list[PlannedReminder] | None = None
    completed: bool = False
    completed_at: datetime | None = None
    created_at: datetime | None = None
    deleted_at: datetime | None = None
    deleted_with: str | None = None
    series_id: str | None = None
    occurrence_of: int | None = None
    last_alert: str | None = None
    comments: list[PlannedComment] = field(default_factory=list)


@dataclass(slots=True)
class Plan:
    """What to write: the user's settings, the projects and the tasks (parents first)."""

    projects: list[PlannedProject]
    tasks: list[PlannedTask]
    timezone: str | None = None
    email: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    # "keep": alert state as the file says; "passed": what is already past raises no alert
    # (a file with no alert state: the user saw those in the app they come from).
    past_alerts: Literal["keep", "passed"] = "keep"
    # How an error about a task's field is named: ("tasks[3]", "due") -> "tasks[3].due".
    field_name: Callable[[str, str], str] = lambda origin, name: f"{origin}.{name}"


@dataclass(frozen=True, slots=True)
class ImportSummary:
    projects_created: int
    projects_merged: int
    tasks: int
    comments: int

    def __str__(self) -> str:
        merged = (
            f" ({self.projects_merged} merged into existing ones)" if self.projects_merged else ""
        )
        return (
            f"imported {self.projects_created + self.projects_merged} project(s){merged}, "
            f"{self.tasks} task(s), {self.comments} comment(s)"
        )


Progress = Callable[[int, int], None]  # (done, total) tasks
