"""The notification service: a user's stored notifications and their read state."""

from __future__ import annotations

from sqlalchemy import select, update

from server.db import Database, utcnow
from server.errors import ValidationFailed
from server.events.outbox import Topics
from server.notifications.models import Notification, NotificationPublic
from server.users.models import User

MAX_LIMIT = 200


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
            stmt = stmt.where(Notification.id.in_(notification_ids))
        async with self.db.transaction() as session:
            result = await session.execute(stmt)
        return result.rowcount
