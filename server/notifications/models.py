"""Notification table and its public shape."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_read", "user_id", "read_at", "id"),
        # The emails a stopped worker left half sent are found by their claim's age.
        Index("ix_notifications_email_claim", "email_status", "email_claimed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    task_id: int | None = Field(default=None)
    kind: str = Field(max_length=32)
    title: str = Field(max_length=600)
    body: str = Field(default="", max_length=2000)
    # The event that caused it: unique, so a redelivered event stores nothing twice.
    source_event_id: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    email_status: str = Field(default="none", max_length=16)  # none | pending | sent | failed
    email_attempts: int = 0
    email_error: str | None = Field(default=None, max_length=1000)
    email_claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NotificationPublic(BaseModel):
    id: int
    task_id: int | None
    kind: str
    title: str
    body: str
    created_at: datetime
    read: bool
    email_status: str


class NotificationList(BaseModel):
    notifications: list[NotificationPublic]


class Marked(BaseModel):
    marked: int
