"""The consumers the workers run: notifications, email and recurrence.

notifications  reminders topic: an alert becomes a stored notification (+ its event)
email          notifications topic: a new notification is emailed (when SMTP is set)
recurrence     task-events topic: a completed recurring task gets its next occurrence
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.events.bus import Envelope
from server.events.consumer import Consumer, apply_once
from server.notifications.email import EmailNotifier, EmailSender
from server.notifications.service import ALERT_KINDS
from server.services import Services


def build_consumers(services: Services, *, email: EmailSender | None = None) -> list[Consumer]:
    """Every consumer, built on `services`; `email` defaults to the one SMTP_* configures."""
    email = email or EmailSender.from_settings(services.settings)
    topics = services.topics
    consumers = [
        notifications_consumer(services, email_enabled=email is not None),
        recurrence_consumer(services),
    ]
    if email is not None:
        notifier = EmailNotifier(db=services.db, sender=email)
        consumers.append(
            Consumer(
                name="email",
                topic=topics.notifications,
                types=frozenset({"notification.created"}),
                handle=notifier.handle,
            )
        )
    return consumers


def notifications_consumer(services: Services, *, email_enabled: bool) -> Consumer:
    async def apply(session: AsyncSession, envelope: Envelope) -> None:
        await services.notifications.create_from_alert(
            session=session, envelope=envelope, email=email_enabled
        )

    async def handle(envelope: Envelope) -> None:
        await apply_once(services.db, "notifications", envelope, apply)

    return Consumer(
        name="notifications",
        topic=services.topics.reminders,
        types=frozenset(ALERT_KINDS),
        handle=handle,
    )


def recurrence_consumer(services: Services) -> Consumer:
    async def apply(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope["data"]
        await services.tasks.ensure_next_occurrence(
            session=session, user_id=int(data["user_id"]), task_id=int(data["task"]["id"])
        )

    async def handle(envelope: Envelope) -> None:
        if envelope["data"]["task"].get("recurrence"):
            await apply_once(services.db, "recurrence", envelope, apply)

    return Consumer(
        name="recurrence",
        topic=services.topics.task_events,
        types=frozenset({"task.completed"}),
        handle=handle,
    )
