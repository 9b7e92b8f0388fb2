"""Outbox, processed-event and dead-letter tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, Text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow


class OutboxEvent(SQLModel, table=True):
    """An event written in the same transaction as the change it describes.

    `sent_batch` numbers the relay's sends in the order they commit (the rows sent together
    share one): `(sent_batch, id)` is an order in which every reader sees a prefix of the
    sent events, never a gap that fills in later, which an id alone is not (ids are taken
    before commit, so they can commit out of order). Live streams read a user's events in
    that order. A row sent again keeps its first number.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "published_at", "id"),
        Index("ix_outbox_user_sent", "key", "sent_batch", "id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    event_id: str = Field(max_length=36, unique=True)
    topic: str = Field(max_length=100)
    key: str = Field(max_length=64)
    envelope: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_batch: int | None = Field(default=None, sa_type=BigInteger)


class OutboxSequence(SQLModel, table=True):
    """One row: the last `sent_batch` given out. Updating it serializes the numbering."""

    __tablename__ = "outbox_sequence"

    id: int = Field(default=1, primary_key=True)
    last_batch: int = Field(default=0, sa_type=BigInteger)


class ProcessedEvent(SQLModel, table=True):
    """An event a consumer has applied: its effects happen once however often it arrives."""

    __tablename__ = "processed_events"
    # Retention deletes the oldest ids first (server/workers/retention.py).
    __table_args__ = (Index("ix_processed_events_processed_at", "processed_at"),)

    consumer: str = Field(max_length=64, primary_key=True)
    event_id: str = Field(max_length=36, primary_key=True)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeadLetter(SQLModel, table=True):
    """An event a consumer kept failing on, parked with its last error."""

    __tablename__ = "dead_letters"

    id: int | None = Field(default=None, primary_key=True)
    consumer: str = Field(max_length=64)
    event_id: str = Field(max_length=36)
    topic: str = Field(max_length=100)
    envelope: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    error: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    retried_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
