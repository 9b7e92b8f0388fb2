"""Each user's live events, read from the outbox in the order they were published.

A position is (sent_batch, id) of an outbox row (see OutboxEvent): every reader sees a
prefix of that order, so "the user's events after position P" never leaves out one that
shows up later. `GET /api/events` gives each event's CloudEvents id as its SSE `id:`; a
client that reconnects with `Last-Event-ID` resumes from that row's position. An id this
user has no published row for (another user's, made up, or deleted by retention after
EVENT_RETENTION_HOURS) has no position: the stream says `reset` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.engine import Connection

from server.db import Database, utcnow
from server.events.models import OutboxEvent
from server.events.outbox import Topics

PAGE_SIZE = 200
MAX_EVENT_ID_LENGTH = 64

_row = OutboxEvent.__table__.c


@dataclass(frozen=True, slots=True, order=True)
class Position:
    batch: int
    id: int


START = Position(0, 0)  # before any event


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    position: Position
    event_id: str
    envelope: dict[str, Any]


class LiveLog:
    """Reads users' published task and notification events from the outbox."""

    def __init__(self, *, db: Database, topics: Topics, retention: timedelta) -> None:
        self.db = db
        self.topics = (topics.task_events, topics.notifications)
        self.retention = retention

    async def position_of(self, user_id: int, event_id: str) -> Position | None:
        """Where the user's event `event_id` was published; None when it is not known."""
        if not event_id or len(event_id) > MAX_EVENT_ID_LENGTH:
            return None
        stmt = select(_row.sent_batch, _row.id).where(
            _row.event_id == event_id,
            _row.key == str(user_id),
            _row.sent_batch.is_not(None),
            _row.created_at >= utcnow() - self.retention,
        )

        def read(conn: Connection) -> Position | None:
            found = conn.execute(stmt).first()
            return None if found is None else Position(found.sent_batch, found.id)

        return await self.db.run(read)

    async def latest(self, user_id: int) -> LoggedEvent | None:
        """The user's most recently published event of any kind (where a new stream starts)."""
        stmt = (
            select(_row.sent_batch, _row.id, _row.event_id)
            .where(_row.key == str(user_id), _row.sent_batch.is_not(None))
            .order_by(_row.sent_batch.desc(), _row.id.desc())
            .limit(1)
        )

        def read(conn: Connection) -> LoggedEvent | None:
            found = conn.execute(stmt).first()
            if found is None:
                return None
            return LoggedEvent(Position(found.sent_batch, found.id), found.event_id, {})

        return await self.db.run(read)

    async def after(
        self, user_id: int, position: Position, *, limit: int = PAGE_SIZE
    ) -> tuple[list[LoggedEvent], bool]:
        """The user's events published after `position`, oldest first, and whether some of
        theirs are still waiting to be published (they will come after these)."""
        key = str(user_id)
        events = (
            select(_row.sent_batch, _row.id, _row.event_id, _row.envelope)
            .where(
                _row.key == key,
                or_(
                    _row.sent_batch > position.batch,
                    and_(_row.sent_batch == position.batch, _row.id > position.id),
                ),
                _row.topic.in_(self.topics),
            )
            .order_by(_row.sent_batch, _row.id)
            .limit(limit)
        )
        waiting = select(
            exists().where(_row.key == key, _row.sent_batch.is_(None), _row.topic.in_(self.topics))
        )

        def read(conn: Connection) -> tuple[list[LoggedEvent], bool]:
            # Waiting ones first: each statement sees what was committed when it began, and a
            # row numbered between the two would be neither found nor seen waiting.
            unsent = bool(conn.scalar(waiting))
            found = [
                LoggedEvent(Position(r.sent_batch, r.id), r.event_id, r.envelope)
                for r in conn.execute(events)
            ]
            return found, unsent

        return await self.db.run(read)
