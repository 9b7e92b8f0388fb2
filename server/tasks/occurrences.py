"""The next occurrence of a completed recurring task, with fresh copies of its subtasks.

`complete_task` and the recurrence consumer both come here (through
`TaskService.ensure_next_occurrence` or `TaskWork.complete`), so a completion yields exactly
one next occurrence (`occurrence_of` is unique) however often it is asked for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from server.errors import ValidationFailed
from server.tasks import queries
from server.tasks.models import NO_DUE, Task
from server.tasks.recurrence import following_rule, next_occurrence
from server.tasks.reminders import Wanted, at_of

if TYPE_CHECKING:
    from server.tasks.work import TaskWork

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Next:
    """A completed task's next occurrence, or why there is none (`note`)."""

    task: Task | None
    note: str | None = None


def next_after(work: TaskWork, task: Task) -> Next:
    """The occurrence after a completed recurring `task`, created once, with fresh open copies
    of its subtasks; or none, and why, when the series ended or its stored rule cannot be
    expanded (the task is completed all the same). A subtask completed with its parent gets
    none: its copy comes with the parent's next occurrence."""
    if not task.recurrence or not task.completed:
        return Next(None)
    session = work.session
    existing = queries.following(session, task)
    if existing is not None:
        work.track([existing])
        return Next(existing)
    if task.parent_id is not None:
        parent = session.get(Task, task.parent_id)
        if parent is not None and parent.completed:
            return Next(None)
    base = task.due or task.completed_at or work.now
    try:
        rule = following_rule(task.recurrence)
        due = rule and next_occurrence(task.recurrence, base, work.user.timezone)
    except ValidationFailed as exc:
        logger.warning("task %s completed without a next occurrence: %s", task.id, exc.rule)
        return Next(None, f"No next occurrence: {exc.rule}")
    if due is None:
        return Next(None, "No next occurrence: the rule has no date after this one")
    shift = due - task.due if task.due else None
    following = copy_of(task, due=due, parent_id=task.parent_id)
    following.recurrence = rule
    following.occurrence_of = task.id
    with session.begin_nested():
        session.add(following)
        session.flush()
    _adopt_copy(work, following, task, shift)
    _copy_subtasks(work, task, following, shift)
    return Next(following)


def copy_of(source: Task, *, due: datetime | None, parent_id: int | None) -> Task:
    """A fresh open copy of `source`, due at `due`."""
    return Task(
        user_id=source.user_id,
        project_id=source.project_id,
        parent_id=parent_id,
        title=source.title,
        description=source.description,
        priority=source.priority,
        priority_rank=source.priority_rank,
        tags=list(source.tags),
        tags_key=source.tags_key,
        due=due,
        due_sort=due or NO_DUE,
        recurrence=source.recurrence,
        series_id=source.series_id,
    )


def _adopt_copy(work: TaskWork, copy: Task, source: Task, shift: timedelta | None) -> None:
    """Track a copy flushed in this unit and give it the source's reminders: the relative
    ones as they are, the absolute ones moved as far as the due time moved."""
    work.adopt(copy)
    moved = []
    for reminder in source.reminders:
        at = at_of(reminder)
        if at is None:
            moved.append(Wanted(before_minutes=reminder["before_minutes"], at=None))
        elif shift is not None and at + shift > work.now:
            moved.append(Wanted(before_minutes=None, at=at + shift))
    work.set_reminders(copy, moved)
    work.changed(copy, "task.created")


def _copy_subtasks(work: TaskWork, source: Task, target: Task, shift: timedelta | None) -> None:
    found = queries.children(work.session, work.db, [source.id])
    kids = [kid for kid in found if kid.deleted_at is None]
    work.track(kids)
    for kid in kids:
        due = kid.due + shift if kid.due and shift else kid.due
        copy = copy_of(kid, due=due, parent_id=target.id)
        work.session.add(copy)
        work.session.flush()
        _adopt_copy(work, copy, kid, shift)
        _copy_subtasks(work, kid, copy, shift)
