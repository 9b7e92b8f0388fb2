"""The task tables' statements and the small units of work the service, the listing and the
deadline alerts share. Hot reads are Core statements built once (building a statement and
its cache key costs more than running it) and run on `Database.run`."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import Database, check_id
from server.errors import NotFound
from server.tasks.models import Task, TaskPublic

TASKS = Task.__table__
R = TypeVar("R")

# What a read returns: the public fields plus the sort keys a listing's cursor is made of.
PUBLIC_COLUMNS = [
    *(TASKS.c[name] for name in TaskPublic.model_fields),
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


async def owned_task(
    session: AsyncSession,
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
    return visible(await session.scalar(stmt), task_id, include_deleted)


async def following(session: AsyncSession, task: Task) -> Task | None:
    """The occurrence created after completing `task`, if any."""
    return await session.scalar(select(Task).where(Task.occurrence_of == task.id))


async def by_idempotency_key(db: Database, user_id: int, key: str) -> Task | None:
    async with db.session() as session:
        return await session.scalar(
            select(Task).where(Task.user_id == user_id, Task.idempotency_key == key)
        )
