"""The transactional outbox: events are added in the caller's transaction as CloudEvents."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server.config import Settings
from server.db import utcnow
from server.events.models import OutboxEvent

SOURCE = "todo-agent"


@dataclass(frozen=True, slots=True)
class Topics:
    """Where each family of events goes (Kafka topic names, also used in-process)."""

    task_events: str = "task-events"
    reminders: str = "reminders"
    notifications: str = "notifications"

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        return cls(
            task_events=settings.kafka_topic_task_events,
            reminders=settings.kafka_topic_reminders,
            notifications=settings.kafka_topic_notifications,
        )

    def all(self) -> tuple[str, str, str]:
        return (self.task_events, self.reminders, self.notifications)


def envelope(*, type: str, user_id: int, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    """A CloudEvents 1.0 structured-mode envelope."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": SOURCE,
        "type": type,
        "time": utcnow().isoformat(),
        "subject": subject,
        "datacontenttype": "application/json",
        "userid": str(user_id),
        "data": data,
    }


def add_event(
    session: Session | AsyncSession,
    *,
    topic: str,
    type: str,
    user_id: int,
    subject: str,
    data: dict[str, Any],
) -> OutboxEvent:
    """Stage an event in `session`; it is committed with the change it describes."""
    event = envelope(type=type, user_id=user_id, subject=subject, data=data)
    row = OutboxEvent(event_id=event["id"], topic=topic, key=str(user_id), envelope=event)
    session.add(row)
    return row


def event_row(
    *, topic: str, type: str, user_id: int, subject: str, data: dict[str, Any]
) -> dict[str, Any]:
    """An event as outbox column values, for many at once: `insert(OutboxEvent), rows`."""
    event = envelope(type=type, user_id=user_id, subject=subject, data=data)
    return {
        "event_id": event["id"],
        "topic": topic,
        "key": str(user_id),
        "envelope": event,
        "created_at": utcnow(),
    }
