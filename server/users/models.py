"""User and API token tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    email: str | None = Field(default=None, max_length=320)
    timezone: str = Field(default="UTC", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    prefix: str = Field(max_length=16, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UserSetting(SQLModel, table=True):
    """One named setting of a user, such as `calendar.feed_key` (server/calendar): the place
    an export of the user's settings reads them from. A secret setting also keeps the
    SHA-256 `digest` of its value, by which it is looked up (never by the value itself)."""

    __tablename__ = "user_settings"
    __table_args__ = (Index("ix_user_settings_digest", "digest", unique=True),)

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    name: str = Field(max_length=64, primary_key=True)
    value: str = Field(max_length=1000)
    digest: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserPublic(SQLModel):
    id: int
    name: str
    email: str | None
    timezone: str
