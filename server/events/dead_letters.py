"""The dead-letter store: events a consumer kept failing on, with their last error."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.db import Database, utcnow
from server.errors import NotFound
from server.events.models import DeadLetter

ERROR_MAX = 4000


async def park(
    db: Database,
    *,
    consumer: str,
    topic: str,
    envelope: dict[str, Any],
    error: str,
    attempts: int,
) -> DeadLetter:
    """Store an event its consumer gave up on."""
    row = DeadLetter(
        consumer=consumer,
        event_id=str(envelope.get("id", "unknown"))[:36],
        topic=topic,
        envelope=envelope,
        error=error[:ERROR_MAX],
        attempts=attempts,
    )
    async with db.transaction() as session:
        session.add(row)
    return row


async def list_dead_letters(db: Database, *, limit: int = 100) -> list[DeadLetter]:
    """The newest dead letters first."""
    async with db.session() as session:
        rows = await session.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit))
        return list(rows)


async def get_dead_letter(db: Database, *, dead_letter_id: int) -> DeadLetter:
    async with db.session() as session:
        row = await session.get(DeadLetter, dead_letter_id)
    if row is None:
        raise NotFound(f"dead letter {dead_letter_id} not found")
    return row


async def mark_retried(db: Database, *, dead_letter_id: int) -> None:
    async with db.transaction() as session:
        row = await session.get(DeadLetter, dead_letter_id)
        if row is not None:
            row.retried_at = utcnow()
