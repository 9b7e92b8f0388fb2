"""The shape of subtasks: a task's ancestors, its descendants and how deep they go.

Subtasks nest at most DEPTH_MAX levels (a task is on level 1, its subtasks on level 2, ...),
so every walk here takes at most that many queries, each through an index (the primary key
going up, ix_tasks_parent_list going down).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import Database
from server.errors import NotFound, ValidationFailed
from server.tasks.models import DEPTH_MAX, Task
from server.tasks.queries import children, owned_task


def ancestors(session: Session, task: Task) -> list[Task]:
    """`task` and the tasks above it, nearest first (its level is the length)."""
    chain = [task]
    while chain[-1].parent_id is not None and len(chain) <= DEPTH_MAX:
        parent = session.get(Task, chain[-1].parent_id)
        if parent is None:
            break
        chain.append(parent)
    return chain


def height(session: Session, task: Task) -> int:
    """How many levels `task` spans with its subtasks (1 without any), deleted ones included:
    they come back where they were when restored."""
    levels, frontier = 1, [task.id]
    while frontier and levels <= DEPTH_MAX:
        frontier = list(session.scalars(select(Task.id).where(Task.parent_id.in_(frontier))))
        if frontier:
            levels += 1
    return levels


def descendants(
    session: Session,
    db: Database,
    task: Task,
    *,
    only: Callable[[Task], bool] | None = None,
) -> list[Task]:
    """Every subtask below `task`, level by level, locked for the transaction. With `only`,
    a subtask that fails it is left out together with the subtasks below it."""
    found: list[Task] = []
    frontier = [task]
    for _ in range(DEPTH_MAX):
        level = children(session, db, [t.id for t in frontier])
        if only is not None:
            level = [t for t in level if only(t)]
        if not level:
            break
        found += level
        frontier = level
    return found


def place_under(session: Session, db: Database, task: Task, parent_id: int | None) -> Task | None:
    """Make `task` a subtask of the user's task `parent_id` (None: a top-level task), unless
    that makes a cycle or nests deeper than DEPTH_MAX levels; returns the parent."""
    if parent_id is None:
        task.parent_id = None
        return None
    if parent_id == task.id:
        raise ValidationFailed("parent_id", "a task cannot be its own subtask")
    try:
        parent = owned_task(
            session, db, user_id=task.user_id, task_id=parent_id, include_deleted=False
        )
    except NotFound as exc:
        raise ValidationFailed("parent_id", exc.message) from None
    chain = ancestors(session, parent)
    if task.id is not None and any(above.id == task.id for above in chain):
        raise ValidationFailed(
            "parent_id", f"task {parent_id} is a subtask of task {task.id}: that would make a cycle"
        )
    span = height(session, task) if task.id is not None else 1
    if len(chain) + span > DEPTH_MAX:
        raise ValidationFailed(
            "parent_id",
            f"subtasks nest at most {DEPTH_MAX} levels deep; under task {parent_id} "
            f"(level {len(chain)}) this task would reach level {len(chain) + span}",
        )
    task.parent_id = parent.id
    return parent
