"""Email for notifications over SMTP (aiosmtplib), retried with backoff, outcome recorded.

`EmailSender` sends one message, retrying transient failures with exponential backoff.
`EmailNotifier` delivers a stored notification: it claims it, sends it, and records
`email_status` (sent | failed), `email_attempts` and `email_error` on the notification.
A failure is recorded, never raised, so it cannot hold up other notifications.

The claim is the email consumer's processed-event row for the `notification.created`
event, written before sending (with the time on the notification): a second consumer given
the same event finds it and stays away. A claim older than the longest possible send whose
notification is still unsent was left by a crash: the next delivery of the event takes it
over, and so does `resume_abandoned`, which the workers run every half minute (the event
itself may never come again: the consumer that read it after the crash stayed away).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from sqlalchemy import select

from server.backoff import Backoff
from server.config import Settings
from server.db import Database, utcnow
from server.events.models import ProcessedEvent
from server.notifications.models import Notification
from server.users.models import User

logger = logging.getLogger(__name__)

CONSUMER = "email"


class EmailFailed(Exception):
    def __init__(self, error: str, attempts: int) -> None:
        super().__init__(error)
        self.error = error
        self.attempts = attempts


# Transient SMTP failures: 1 s, 2 s, 4 s … between attempts.
EMAIL_BACKOFF = Backoff(first=1.0, cap=60.0)


@dataclass(frozen=True, slots=True)
class EmailSender:
    """Sends messages through one SMTP server."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    attempts: int = 4
    backoff: Backoff = EMAIL_BACKOFF
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailSender | None:
        """The configured sender, or None when SMTP_HOST is unset (no email)."""
        if not settings.smtp_host:
            return None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=password,
            starttls=settings.smtp_starttls,
        )

    @property
    def longest_send(self) -> timedelta:
        """An upper bound of the time `send` can take, retries included."""
        waits = self.backoff.total(self.attempts - 1)
        return timedelta(seconds=waits + self.attempts * self.timeout_seconds * 2)

    async def send(self, *, to: str, subject: str, body: str, message_id: str) -> int:
        """Send one message; returns the attempts it took, raises EmailFailed."""
        message = EmailMessage()
        try:
            message["From"] = self.sender
            message["To"] = to
            message["Subject"] = subject
            message["Message-ID"] = message_id
            message.set_content(body)
        except ValueError as exc:  # a header that cannot be written: retrying will not help
            raise EmailFailed(f"message cannot be built: {exc}", 0) from None
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                await aiosmtplib.send(
                    message,
                    hostname=self.host,
                    port=self.port,
                    username=self.username,
                    password=self.password,
                    start_tls=self.starttls,
                    use_tls=False,
                    timeout=self.timeout_seconds,
                )
                return attempt
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                logger.warning("email attempt %d/%d failed: %s", attempt, self.attempts, error)
                if _permanent(exc):
                    raise EmailFailed(error, attempt) from exc
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff.delay(attempt))
        raise EmailFailed(error, self.attempts)


def _permanent(exc: Exception) -> bool:
    """5xx replies (bad address, refused) do not get better by retrying."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 500 <= exc.code < 600


@dataclass(frozen=True, slots=True)
class _Job:
    notification_id: int
    to: str
    subject: str
    body: str
    message_id: str


@dataclass(frozen=True, slots=True)
class EmailNotifier:
    """Emails stored notifications (the `email` consumer of notification.created)."""

    db: Database
    sender: EmailSender

    async def handle(self, envelope: dict[str, Any]) -> None:
        notification_id = int(envelope["data"]["notification"]["id"])
        job = await self._claim(notification_id, envelope["id"])
        if job is not None:
            await self._send(job)

    async def resume_abandoned(self) -> int:
        """Send the emails whose sender stopped half way (a claim older than the longest
        send); returns how many."""
        cutoff = utcnow() - self.sender.longest_send
        stmt = (
            select(Notification.id)
            .where(Notification.email_status == "sending", Notification.email_claimed_at < cutoff)
            .order_by(Notification.email_claimed_at)
            .limit(100)
        )
        async with self.db.session() as session:
            abandoned = list(await session.scalars(stmt))
        resumed = 0
        for notification_id in abandoned:
            job = await self._claim(notification_id, None)
            if job is not None:
                await self._send(job)
                resumed += 1
        if resumed:
            logger.warning("sent %d emails a stopped worker had left half sent", resumed)
        return resumed

    async def _send(self, job: _Job) -> None:
        notification_id = job.notification_id
        try:
            attempts = await self.sender.send(
                to=job.to, subject=job.subject, body=job.body, message_id=job.message_id
            )
        except EmailFailed as exc:
            logger.error("email for notification %d failed: %s", notification_id, exc.error)
            await self._record(notification_id, "failed", exc.attempts, exc.error)
        else:
            logger.info("emailed notification %d", notification_id)
            await self._record(notification_id, "sent", attempts, None)

    async def _claim(self, notification_id: int, event_id: str | None) -> _Job | None:
        """Claim the notification's email for the event `event_id`, or (None) take over an
        abandoned claim; None when someone else has it or it needs no email."""
        stmt = self.db.for_update(select(Notification).where(Notification.id == notification_id))
        async with self.db.transaction() as session:
            notification = await session.scalar(stmt)
            if notification is None or notification.email_status not in ("pending", "sending"):
                return None
            now = utcnow()
            stale = now - self.sender.longest_send
            if event_id is None:
                claimed = notification.email_claimed_at
                if notification.email_status != "sending" or claimed is None or claimed > stale:
                    return None
            else:
                claim = await session.get(ProcessedEvent, (CONSUMER, event_id))
                if claim is None:
                    session.add(ProcessedEvent(consumer=CONSUMER, event_id=event_id))
                elif claim.processed_at > stale:
                    return None  # another consumer is sending it
                else:
                    claim.processed_at = now  # left by a crash mid-send: take it over
            user = await session.get(User, notification.user_id)
            if user is None or not user.email:
                notification.email_status = "none"
                return None
            notification.email_status = "sending"
            notification.email_claimed_at = now
            return _Job(
                notification_id=notification_id,
                to=user.email,
                subject=notification.title,
                body=f"{notification.body}\n\n-- todo-agent",
                # The same for every attempt at this notification (a takeover included).
                message_id=f"<notification-{notification_id}.{notification.source_event_id}"
                "@todo-agent>",
            )

    async def _record(
        self, notification_id: int, status: str, attempts: int, error: str | None
    ) -> None:
        async with self.db.transaction() as session:
            notification = await session.get(Notification, notification_id)
            if notification is None:
                return
            notification.email_status = status
            notification.email_attempts += attempts
            notification.email_error = error[:1000] if error else None
