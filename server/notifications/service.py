"""The notification service: a user's stored notifications, their read state, and the
notifications that deadline alerts create."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import Database, is_row_id, utcnow
from server.errors import NotFound, ValidationFailed
from server.events.outbox import Topics, add_event
from server.notifications.models import Notification, NotificationPublic
from server.projects.models import Project
from server.tasks.models import Task
from server.tasks.queries import owned_task
from server.tasks.reminders import fires_at
from server.users.models import User

MAX_LIMIT = 200
# Alert event type -> notification kind.
ALERT_KINDS = {"reminder.due": "reminder", "task.due": "due", "task.overdue": "overdue"}


def to_public(notification: Notification) -> NotificationPublic:
    return NotificationPublic(
        id=notification.id,
        task_id=notification.task_id,
        kind=notification.kind,
        title=notification.title,
        body=notification.body,
        created_at=notification.created_at,
        read=notification.read_at is not None,
        email_status=notification.email_status,
    )


class NotificationService:
    def __init__(self, *, db: Database, topics: Topics) -> None:
        self.db = db
        self.topics = topics

    async def list_notifications(
        self, *, user: User, unread_only: bool = True, limit: int = 50
    ) -> list[NotificationPublic]:
        """The user's newest notifications first."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationFailed("limit", f"must be between 1 and {MAX_LIMIT}")
        stmt = select(Notification).where(Notification.user_id == user.id)
        if unread_only:
            stmt = stmt.where(Notification.read_at.is_(None))
        stmt = stmt.order_by(Notification.id.desc()).limit(limit)
        async with self.db.session() as session:
            return [to_public(n) for n in await session.scalars(stmt)]

    async def mark_read(self, *, user: User, notification_ids: list[int] | None = None) -> int:
        """Mark the given (or, with None, all) unread notifications read; returns how many."""
        stmt = (
            update(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        if notification_ids is not None:
            if len(notification_ids) > 1000:
                raise ValidationFailed("notification_ids", "at most 1000 ids at once")
            # Ids beyond the column's range name no row (and the database would reject them).
            ids = [i for i in notification_ids if is_row_id(i)]
            stmt = stmt.where(Notification.id.in_(ids))
        async with self.db.transaction() as session:
            result = await session.execute(stmt)
        return result.rowcount

    async def create_from_alert(
        self, *, session: AsyncSession, envelope: dict[str, Any], email: bool
    ) -> Notification | None:
        """Store the notification a deadline alert asks for, and its `notification.created`
        event, in `session`'s transaction. None when the alert went stale (the task was
        completed, deleted or rescheduled since, its reminder changed, or its project
        archived). `email`: whether email is configured."""
        data = envelope["data"]
        due = data["due"] and datetime.fromisoformat(data["due"])
        fire_at = datetime.fromisoformat(data["fire_at"])
        try:
            task = await session.run_sync(
                owned_task,
                self.db,
                user_id=int(data["user_id"]),
                task_id=int(data["task_id"]),
                include_deleted=False,
            )
        except NotFound:
            return None
        if task.completed or not await self._still_due(session, task, data, due, fire_at):
            return None
        user = await session.get(User, task.user_id)
        kind = ALERT_KINDS[envelope["type"]]
        title, body = alert_text(kind, task.title, due or fire_at, user.timezone, due is None)
        notification = Notification(
            user_id=user.id,
            task_id=task.id,
            kind=kind,
            title=title,
            body=body,
            source_event_id=envelope["id"],
            email_status="pending" if email and user.email else "none",
        )
        session.add(notification)
        await session.flush()
        add_event(
            session,
            topic=self.topics.notifications,
            type="notification.created",
            user_id=user.id,
            subject=f"notification/{notification.id}",
            data={
                "user_id": user.id,
                "notification": to_public(notification).model_dump(mode="json"),
            },
        )
        return notification

    @staticmethod
    async def _still_due(
        session: AsyncSession,
        task: Task,
        data: dict[str, Any],
        due: datetime | None,
        fire_at: datetime,
    ) -> bool:
        """Whether the alert still stands: same due time, or the same reminder time."""
        project = await session.get(Project, task.project_id)
        if project is None or project.archived:
            return False
        if "reminder_id" in data:
            wanted = int(data["reminder_id"])
            reminder = next((r for r in task.reminders if r["id"] == wanted), None)
            return reminder is not None and fires_at(reminder, task.due) == fire_at
        return task.due == due


def alert_text(
    kind: str, task_title: str, when_at: datetime, timezone: str, undated: bool = False
) -> tuple[str, str]:
    """The title and body of an alert's notification, with the due time (or, for a reminder
    of a task without one, the reminder's time) in the user's zone."""
    local = when_at.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y %H:%M")
    when = f"{local} ({timezone})"
    if kind == "reminder" and undated:
        return f"Reminder: {task_title}", f"Reminder set for {when}."
    if kind == "reminder":
        return f"Reminder: {task_title}", f"Due {when}."
    if kind == "due":
        return f"Due now: {task_title}", f"Due {when}."
    return f"Overdue: {task_title}", f"Was due {when} and is not completed."
