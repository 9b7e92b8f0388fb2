"""What to do next: a deterministic ranking of a user's open tasks, each with its reasons.

Tasks are ordered by, in turn:

1. urgency: overdue (past its due time), then due today (in the user's timezone), then due
   within the next three days, then the rest;
2. priority: high, medium, low, none;
3. open subtasks waiting on it: more first;
4. due time (sooner first, undated last), then the oldest task first (its id).

The candidates are read through the listing indexes: the 200 soonest-due open tasks and
the 200 most important ones (tasks of archived projects are left out), so the ranking costs
the same however many tasks a user keeps.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import false, select

from server.db import Database, utcnow
from server.errors import ValidationFailed
from server.projects.queries import not_in_archived
from server.tasks.models import NextTasks, RankedTask, Task
from server.tasks.queries import PUBLIC_COLUMNS, public_from
from server.users.models import User

SOON_DAYS = 3
CANDIDATES = 200
LIMIT_MAX = 50
PRIORITY_REASON = {1: "high priority", 2: "medium priority", 3: "low priority"}


async def rank_next(
    db: Database, *, user: User, limit: int, now: datetime | None = None
) -> NextTasks:
    """The user's `limit` most pressing open tasks at `now`, most pressing first."""
    if not 1 <= limit <= LIMIT_MAX:
        raise ValidationFailed("limit", f"must be between 1 and {LIMIT_MAX}")
    clock = Clock(now or utcnow(), ZoneInfo(user.timezone))
    open_tasks = [
        Task.user_id == user.id,
        Task.deleted_at.is_(None),
        Task.completed == false(),
        not_in_archived(Task.project_id, user.id),
    ]
    soonest = (
        select(*PUBLIC_COLUMNS)
        .where(*open_tasks, Task.due_sort < clock.soon)
        # The fixed columns first, so PostgreSQL reads the index in order (see listing.py).
        .order_by(Task.deleted_at, Task.completed, Task.due_sort, Task.id)
        .limit(CANDIDATES)
    )
    important = (
        select(*PUBLIC_COLUMNS)
        .where(*open_tasks)
        .order_by(Task.deleted_at, Task.completed, Task.priority_rank, Task.due_sort, Task.id)
        .limit(CANDIDATES)
    )

    def read(conn):
        rows = {row.id: row for stmt in (soonest, important) for row in conn.execute(stmt)}
        return sorted(rows.values(), key=clock.rank)[:limit]

    top = await db.run(read)
    return NextTasks(
        tasks=[
            RankedTask(task=public_from(row._mapping), reasons=clock.reasons(row)) for row in top
        ]
    )


class Clock:
    """`now` in the user's timezone, and what it makes of a task's due time."""

    def __init__(self, now: datetime, tz: ZoneInfo) -> None:
        self.now = now
        self.tz = tz
        today = now.astimezone(tz).date()
        self.today = today
        self.end_of_today = datetime.combine(today + timedelta(days=1), time(), tz)
        self.soon = now + timedelta(days=SOON_DAYS)

    def urgency(self, due: datetime | None) -> int:
        if due is None or due >= self.soon:
            return 3
        if due < self.now:
            return 0
        return 1 if due < self.end_of_today else 2

    def rank(self, row: Any) -> tuple:
        return (
            self.urgency(row.due),
            row.priority_rank,
            -row.open_subtasks,
            row.due_sort,
            row.id,
        )

    def reasons(self, row: Any) -> list[str]:
        """Why a task ranks where it does, in words."""
        reasons = []
        urgency = self.urgency(row.due)
        if urgency == 0:
            reasons.append(f"overdue by {span(self.now - row.due)}")
        elif row.due is not None:
            reasons.append(f"due {self.day(row.due)}")
        if row.priority_rank in PRIORITY_REASON:
            reasons.append(PRIORITY_REASON[row.priority_rank])
        if row.open_subtasks:
            count = row.open_subtasks
            reasons.append(f"{count} open subtask{'s' if count != 1 else ''} waiting on it")
        return reasons or ["no due date or priority: next in line"]

    def day(self, due: datetime) -> str:
        local = due.astimezone(self.tz)
        days = (local.date() - self.today).days
        at = f"{local:%H:%M}"
        if days == 0:
            return f"today at {at}"
        if days == 1:
            return f"tomorrow at {at}"
        if days < 7:
            return f"{local:%A} at {at}"
        return f"{local:%a %d %b %Y}"


def span(delta: timedelta) -> str:
    """A duration in words: '25 minutes', '5 hours', '3 days'."""
    minutes = int(delta.total_seconds() // 60)
    for size, unit in ((60 * 24, "day"), (60, "hour")):
        if minutes >= 2 * size:
            count = minutes // size
            return f"{count} {unit}s"
    if minutes >= 60:
        return "1 hour"
    minutes = max(minutes, 1)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
