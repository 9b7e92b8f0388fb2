"""Reading an export document (JSON, server/portability/models.py) into a `Plan`.

The document's shape is checked first (a truncated or damaged file stops here, naming the
line and column, or the field: `tasks[3].due: ...`), then how it ties together: every
`project_id`, `parent_id` and `occurrence_of` names an item of the file, no id is used
twice, no subtask chain loops. The field rules themselves (title, tags, due, recurrence,
reminders, depth) are the task service's, applied when the plan is written.
"""

from __future__ import annotations

import json
from typing import Any

from server.errors import ValidationFailed
from server.portability.models import (
    VERSION,
    ExportDocument,
    Plan,
    PlannedComment,
    PlannedProject,
    PlannedReminder,
    PlannedTask,
    TaskDoc,
)
from server.validation import parse_model


def parse_json(text: str) -> Plan:
    """A plan from an export document's text; ValidationFailed naming what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            "file", f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise ValidationFailed("file", "is not a todo-agent export (a JSON object)")
    version = data.get("version")
    if isinstance(version, int) and version > VERSION:
        raise ValidationFailed(
            "version", f"{version} is newer than this todo-agent reads (up to {VERSION})"
        )
    document = parse_model(ExportDocument, data)
    if document.version < 1:
        raise ValidationFailed("version", f"must be 1 to {VERSION}")
    return plan_of(document)


def plan_of(document: ExportDocument) -> Plan:
    project_keys = _unique_ids("projects", [p.id for p in document.projects])
    task_index = _unique_ids("tasks", [t.id for t in document.tasks])
    followed: dict[int, int] = {}
    for index, task in enumerate(document.tasks):
        _check_refs(index, task, project_keys, task_index)
        if task.occurrence_of is not None:
            if task.occurrence_of in followed:
                raise ValidationFailed(
                    f"tasks[{index}].occurrence_of",
                    f"task {task.occurrence_of} is already followed by "
                    f"tasks[{followed[task.occurrence_of]}]",
                )
            followed[task.occurrence_of] = index
    projects = [
        PlannedProject(
            key=project.id,
            origin=f"projects[{index}]",
            name=project.name,
            color=project.color,
            inbox=project.inbox,
            archived=project.archived,
            created_at=project.created_at,
            deleted_at=project.deleted_at,
        )
        for index, project in enumerate(document.projects)
    ]
    order = _parents_first(document.tasks, task_index)
    return Plan(
        projects=projects,
        tasks=[_planned(index, document.tasks[index]) for index in order],
        timezone=document.user.timezone,
        email=document.user.email,
        settings=dict(document.settings),
    )


def _unique_ids(field: str, ids: list[int]) -> dict[int, int]:
    """Each id's position; ValidationFailed for one used twice."""
    index: dict[int, int] = {}
    for position, item_id in enumerate(ids):
        if item_id in index:
            raise ValidationFailed(
                f"{field}[{position}].id",
                f"{item_id} is used twice (also {field}[{index[item_id]}])",
            )
        index[item_id] = position
    return index


def _check_refs(
    index: int, task: TaskDoc, project_keys: dict[int, int], task_index: dict[int, int]
) -> None:
    if task.project_id not in project_keys:
        raise ValidationFailed(
            f"tasks[{index}].project_id", f"project {task.project_id} is not in the file"
        )
    for name in ("parent_id", "occurrence_of"):
        ref = getattr(task, name)
        if ref is not None and ref not in task_index:
            raise ValidationFailed(f"tasks[{index}].{name}", f"task {ref} is not in the file")
    if task.parent_id == task.id:
        raise ValidationFailed(f"tasks[{index}].parent_id", "a task cannot be its own subtask")


def _parents_first(tasks: list[TaskDoc], task_index: dict[int, int]) -> list[int]:
    """The tasks' positions, each parent before its subtasks (file order otherwise)."""
    order: list[int] = []
    placed: set[int] = set()
    for start in range(len(tasks)):
        chain: list[int] = []
        position: int | None = start
        while position is not None and position not in placed:
            if position in chain:
                raise ValidationFailed(
                    f"tasks[{position}].parent_id", "the subtasks of the file make a cycle"
                )
            chain.append(position)
            parent = tasks[position].parent_id
            position = task_index[parent] if parent is not None else None
        for position in reversed(chain):
            placed.add(position)
            order.append(position)
    return order


def _planned(index: int, task: TaskDoc) -> PlannedTask:
    fields: dict[str, Any] = {
        "title": task.title,
        "description": task.description,
        "priority": task.priority,
        "tags": task.tags,
        "due": task.due,
        "recurrence": task.recurrence,
    }
    return PlannedTask(
        key=task.id,
        origin=f"tasks[{index}]",
        project_key=task.project_id,
        parent_key=task.parent_id,
        fields=fields,
        reminders=[
            PlannedReminder(spec={"before_minutes": r.before_minutes, "at": r.at}, fired=r.fired)
            for r in task.reminders
        ],
        completed=task.completed,
        completed_at=task.completed_at,
        created_at=task.created_at,
        deleted_at=task.deleted_at,
        deleted_with=task.deleted_with,
        series_id=task.series_id,
        occurrence_of=task.occurrence_of,
        last_alert=task.last_alert,
        comments=[PlannedComment(text=c.text, created_at=c.created_at) for c in task.comments],
    )
