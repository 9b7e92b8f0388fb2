"""A user's agenda by calendar day, in their own timezone: what is due today (overdue
included), what comes in the next days, what was done lately, and the tags in use.

These reads feed the MCP resources and prompts (mcp_tools/resources.py, prompts.py); like
the listing, they are Core selects on `Database.run`, read in due order from the listing
index (ix_tasks_list_due).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import false, func, select, true

from server.db import Database, utcnow
from server.projects.queries import not_in_archived
from server.tasks.models import Task, TaskPublic
from server.tasks.queries import PUBLIC_COLUMNS, public_from
from server.users.models import User

AGENDA_LIMIT = 200
UPCOMING_DAYS = 7


class Agenda(BaseModel):
    """Open tasks due within a span of the user's calendar days, soonest first."""

    timezone: str
    today: date
    due_before: datetime
    due_from: datetime | None
    tasks: list[TaskPublic]
    truncated: bool


def day_start(day: date, timezone: str) -> datetime:
    """The instant a calendar day begins in `timezone` (as an aware datetime)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))


def local_today(timezone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


async def open_tasks_due(
    db: Database, *, user: User, start: datetime | None, end: datetime
) -> tuple[list[TaskPublic], bool]:
    """The user's open tasks due from `start` (any time before, when None) until `end`,
    soonest first, outside archived projects; and whether there were more than the limit."""
    where = [
        Task.user_id == user.id,
        Task.deleted_at.is_(None),
        Task.completed == false(),
        Task.due < end,
        not_in_archived(Task.project_id, user.id),
    ]
    if start is not None:
        where.append(Task.due >= start)
    stmt = (
        select(*PUBLIC_COLUMNS)
        .where(*where)
        .order_by(Task.deleted_at, Task.completed, Task.due_sort, Task.id)
        .limit(AGENDA_LIMIT + 1)
    )
    rows = await db.run(lambda conn: conn.execute(stmt).all())
    return [public_from(row._mapping) for row in rows[:AGENDA_LIMIT]], len(rows) > AGENDA_LIMIT


async def today(db: Database, *, user: User, now: datetime | None = None) -> Agenda:
    """Open tasks due before the end of the user's calendar day, overdue ones included."""
    now = now or utcnow()
    day = local_today(user.timezone, now)
    end = day_start(day + timedelta(days=1), user.timezone)
    tasks, more = await open_tasks_due(db, user=user, start=None, end=end)
    return Agenda(
        timezone=user.timezone,
        today=day,
        due_before=end,
        due_from=None,
        tasks=tasks,
        truncated=more,
    )


async def upcoming(
    db: Database, *, user: User, days: int = UPCOMING_DAYS, now: datetime | None = None
) -> Agenda:
    """Open tasks due on the user's next `days` calendar days (after today)."""
    now = now or utcnow()
    day = local_today(user.timezone, now)
    start = day_start(day + timedelta(days=1), user.timezone)
    end = day_start(day + timedelta(days=1 + days), user.timezone)
    tasks, more = await open_tasks_due(db, user=user, start=start, end=end)
    return Agenda(
        timezone=user.timezone,
        today=day,
        due_before=end,
        due_from=start,
        tasks=tasks,
        truncated=more,
    )


async def completed_since(db: Database, *, user: User, since: datetime) -> list[TaskPublic]:
    """The user's tasks completed since `since`, most recent first (at most the limit)."""
    stmt = (
        select(*PUBLIC_COLUMNS)
        .where(
            Task.user_id == user.id,
            Task.deleted_at.is_(None),
            Task.completed == true(),
            Task.completed_at >= since,
        )
        .order_by(Task.completed_at.desc(), Task.id.desc())
        .limit(AGENDA_LIMIT)
    )
    rows = await db.run(lambda conn: conn.execute(stmt).all())
    return [public_from(row._mapping) for row in rows]


async def tag_names(db: Database, *, user: User, prefix: str = "", limit: int = 100) -> list[str]:
    """The tags on the user's tasks (not deleted) starting with `prefix` ignoring case,
    as first written, sorted ignoring case; at most `limit`."""
    stmt = select(Task.tags).where(
        Task.user_id == user.id, Task.deleted_at.is_(None), Task.tags_key != "|"
    )
    if prefix:
        escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(Task.tags_key).like(f"%|{escaped}%", escape="\\"))
    rows = await db.run(lambda conn: conn.execute(stmt).all())
    found: dict[str, str] = {}
    wanted = prefix.lower()
    for (tags,) in rows:
        for tag in tags or ():
            if tag.lower().startswith(wanted):
                found.setdefault(tag.lower(), tag)
    return [found[key] for key in sorted(found)][:limit]
