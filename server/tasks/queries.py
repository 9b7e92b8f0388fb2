"""The task tables' statements and the small units of work the service, the listing and the
deadline alerts share. Hot reads are Core statements built once (building a statement and
its cache key costs more than running it) and run on `Database.run`. The ORM reads take a
sync `Session` (a unit of work on `Database.run_session`; an async caller hands them to
`AsyncSession.run_sync`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import bindparam, false, func, select
from sqlalchemy.orm import Session

from server.db import Database, check_id
from server.errors import NotFound
from server.tasks.models import Task, TaskPublic
from server.tasks.reminders import remind_before
from server.tasks.reminders import to_public as reminder_public

TASKS = Task.__table__
CHILD = TASKS.alias("child")
R = TypeVar("R")

# How many open subtasks a task has, per listed row (read from ix_tasks_parent_list).
OPEN_SUBTASKS = (
    select(func.count())
    .select_from(CHILD)
    .where(
        CHILD.c.parent_id == TASKS.c.id,
        CHILD.c.deleted_at.is_(None),
        CHILD.c.completed == false(),
    )
    .correlate(TASKS)
    .scalar_subquery()
    .label("open_subtasks")
)
# Public fields made from the kept reminders and the subtasks rather than read as they are.
DERIVED = {"remind_before_minutes", "reminders", "open_subtasks"}
# What a read returns: the public fields plus the sort keys a listing's cursor is made of.
PUBLIC_COLUMNS = [
    *(TASKS.c[name] for name in TaskPublic.model_fields if name not in DERIVED),
    TASKS.c.reminders,
    OPEN_SUBTASKS,
    TASKS.c.due_sort,
    TASKS.c.priority_rank,
]

GET_TASK = select(*PUBLIC_COLUMNS).where(
    TASKS.c.id == bindparam("id"), TASKS.c.user_id == bindparam("user_id")
)


def task_not_found(task_id: int) -> NotFound:
    return NotFound(f"task {task_id} not found", details={"task_id": task_id})


def visible(row: R | None, task_id: int, include_deleted: bool) -> R:
    """The task (a `Task` or a row of one), unless it is missing, or deleted and not wanted."""
    if row is None or (row.deleted_at is not None and not include_deleted):
        raise task_not_found(task_id)
    return row


def public_from(fields: Mapping[str, Any]) -> TaskPublic:
    """A task's public form from its columns (a row or a dict), kept reminders included."""
    data = dict(fields)
    kept = data["reminders"]
    data["reminders"] = [reminder_public(r, data["due"]) for r in kept]
    data["remind_before_minutes"] = remind_before(kept)
    return TaskPublic.model_validate(data)


def public_task(task: Task, open_subtasks: int) -> TaskPublic:
    fields = {name: getattr(task, name) for name in TaskPublic.model_fields if name not in DERIVED}
    fields["reminders"] = task.reminders
    fields["open_subtasks"] = open_subtasks
    return public_from(fields)


def owned_task(
    session: Session,
    db: Database,
    *,
    user_id: int,
    task_id: int,
    include_deleted: bool,
    lock: bool = False,
) -> Task:
    """The user's task `task_id` in `session` (locked until commit with `lock`); NotFound
    when it is missing, another user's, or deleted and not wanted."""
    check_id(task_id, task_not_found)
    stmt = select(Task).where(Task.id == task_id, Task.user_id == user_id)
    if lock:
        stmt = db.for_update(stmt)
    return visible(session.scalar(stmt), task_id, include_deleted)


def open_subtask_counts(session: Session, task_ids: Sequence[int]) -> dict[int, int]:
    if not task_ids:
        return {}
    rows = session.execute(
        select(Task.parent_id, func.count())
        .where(
            Task.parent_id.in_(list(task_ids)),
            Task.deleted_at.is_(None),
            Task.completed == false(),
        )
        .group_by(Task.parent_id)
    )
    return dict(rows.all())


def children(session: Session, db: Database, parent_ids: Sequence[int]) -> list[Task]:
    """The direct subtasks of these tasks (deleted ones too), locked for the transaction."""
    if not parent_ids:
        return []
    stmt = select(Task).where(Task.parent_id.in_(list(parent_ids))).order_by(Task.id)
    return list(session.scalars(db.for_update(stmt)))


def following(session: Session, task: Task) -> Task | None:
    """The occurrence created after completing `task`, if any."""
    return session.scalar(select(Task).where(Task.occurrence_of == task.id))


def by_idempotency_key(session: Session, user_id: int, key: str) -> Task | None:
    return session.scalar(select(Task).where(Task.user_id == user_id, Task.idempotency_key == key))
