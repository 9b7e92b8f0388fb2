"""Activity: written by the task and project services in their own transactions (`record`),
read back a page at a time, newest first (`ActivityService.list_activity`), pruned by the
retention worker after ACTIVITY_RETENTION_DAYS."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server.activity.models import LIMIT_MAX, Activity, ActivityPage, ActivityPublic, ActivityQuery
from server.db import Database, check_id, utcnow
from server.errors import ValidationFailed
from server.paging import decode_cursor, encode_cursor
from server.projects.queries import ProjectLookup
from server.tasks.dates import resolve_due
from server.tasks.queries import owned_task, task_not_found
from server.users.models import User

LISTING = "activity"


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for each field that differs; for something new, every field set."""
    if before is None:
        return {k: [None, v] for k, v in after.items() if v not in (None, [], "", False)}
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def activity_row(
    *,
    user_id: int,
    type: str,
    changes: dict[str, list[Any]],
    task_id: int | None = None,
    project_id: int | None = None,
) -> dict[str, Any]:
    """One activity entry as column values, for many at once: `insert(Activity), rows`."""
    return {
        "user_id": user_id,
        "at": utcnow(),
        "type": type,
        "task_id": task_id,
        "project_id": project_id,
        "changes": changes,
    }


def record(session: Session | AsyncSession, **entry: Any) -> None:
    """Stage one activity entry (`activity_row`'s fields) in `session`: it commits with the
    change it describes."""
    session.add(Activity(**activity_row(**entry)))


class ActivityService:
    """Reads a user's activity."""

    def __init__(self, *, db: Database) -> None:
        self.db = db

    async def list_activity(self, *, user: User, query: ActivityQuery) -> ActivityPage:
        """One page, newest first; `next_cursor` continues with older changes."""
        if not 1 <= query.limit <= LIMIT_MAX:
            raise ValidationFailed("limit", f"must be between 1 and {LIMIT_MAX}")
        stmt = select(Activity).where(Activity.user_id == user.id)
        async with self.db.session() as session:
            if query.task_id is not None:
                check_id(query.task_id, task_not_found)
                await session.run_sync(
                    owned_task,
                    self.db,
                    user_id=user.id,
                    task_id=query.task_id,
                    include_deleted=True,
                )
                stmt = stmt.where(Activity.task_id == query.task_id)
            if query.project is not None:
                # An id also names a deleted project: its history stays readable.
                project = await session.run_sync(
                    lambda sync: ProjectLookup(sync, user.id).resolve(
                        query.project, include_deleted=True
                    )
                )
                stmt = stmt.where(Activity.project_id == project.id)
            if query.since is not None:
                since = resolve_due(query.since, user.timezone, field="since")
                stmt = stmt.where(Activity.at >= since)
            if query.cursor:
                at, last_id = decode_cursor(query.cursor, LISTING, "di")
                bound = tuple_(literal(at, Activity.__table__.c.at.type), literal(last_id))
                stmt = stmt.where(tuple_(Activity.at, Activity.id) < bound)
            stmt = stmt.order_by(Activity.at.desc(), Activity.id.desc()).limit(query.limit + 1)
            found = list(await session.scalars(stmt))
        more = len(found) > query.limit
        found = found[: query.limit]
        cursor = encode_cursor(LISTING, [found[-1].at, found[-1].id]) if more and found else None
        return ActivityPage(
            events=[ActivityPublic.model_validate(a) for a in found], next_cursor=cursor
        )
