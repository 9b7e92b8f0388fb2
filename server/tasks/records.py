"""What a task write records besides the tasks: for each task it changed, one event in the
outbox and one activity entry, written in the same transaction as the change.

They are written as Core inserts, every row of a kind in one statement: the unit of work has
no ORM objects to construct, track and flush for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from server.activity.models import Activity
from server.activity.service import activity_row, diff
from server.events.models import OutboxEvent
from server.events.outbox import Topics, event_row
from server.tasks.models import Task, TaskPublic
from server.tasks.reminders import spec

OUTBOX = OutboxEvent.__table__
ACTIVITY = Activity.__table__


def _iso(value: datetime | None) -> str | None:
    return value and value.isoformat()


def tracked(task: Task) -> dict[str, Any]:
    """The fields activity records, as JSON values."""
    return {
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "priority": task.priority,
        "tags": list(task.tags),
        "due": _iso(task.due),
        "recurrence": task.recurrence,
        "project_id": task.project_id,
        "parent_id": task.parent_id,
        "deleted_at": _iso(task.deleted_at),
        "reminders": [spec(reminder) for reminder in task.reminders],
    }


def write_records(
    session: Session,
    topics: Topics,
    *,
    changed: Mapping[int, str],
    tasks: Mapping[int, Task],
    publics: Mapping[int, TaskPublic],
    before: Mapping[int, dict[str, Any] | None],
) -> None:
    """The event (`changed`: its type by task id) and activity entry of each changed task;
    `before`: its `tracked` fields before the change, None for a new one."""
    events, entries = [], []
    for task_id, event_type in changed.items():
        task = tasks[task_id]
        events.append(
            event_row(
                topic=topics.task_events,
                type=event_type,
                user_id=task.user_id,
                subject=f"task/{task_id}",
                data={"user_id": task.user_id, "task": publics[task_id].model_dump(mode="json")},
            )
        )
        changes = diff(before[task_id], tracked(task))
        if changes:
            entries.append(
                activity_row(
                    user_id=task.user_id,
                    type=event_type,
                    changes=changes,
                    task_id=task_id,
                    project_id=task.project_id,
                )
            )
    for table, rows in ((OUTBOX, events), (ACTIVITY, entries)):
        if rows:
            session.execute(table.insert(), rows)
