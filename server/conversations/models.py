"""Conversation and message tables: everything the agent said and did is stored."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user_updated", "user_id", "updated_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    title: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation", "conversation_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id")
    role: str = Field(max_length=16)  # user | assistant | tool
    content: str | None = Field(default=None, sa_column=Column(Text))
    # assistant: [{"id", "name", "arguments"}]; tool: null
    tool_calls: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    tool_call_id: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=128)
    is_error: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ConversationFingerprint(SQLModel, table=True):
    """A transcript a chat app will send back through the `/v1` façade (see
    server/conversations/facade.py): its fingerprint, and the conversation it continues."""

    __tablename__ = "conversation_fingerprints"
    __table_args__ = (
        UniqueConstraint("user_id", "fingerprint", name="uq_conversation_fingerprints"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    fingerprint: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def shown_arguments(raw: str) -> Any:
    """A tool call's raw argument text as shown to clients: the object, or the text itself
    when the model wrote something that is not JSON."""
    try:
        return json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        return raw


class ToolCallPublic(SQLModel):
    """A tool call the assistant made; `arguments` is an object, or the raw text if not JSON."""

    id: str
    name: str
    arguments: Any


class MessagePublic(SQLModel):
    id: int
    role: str
    content: str | None
    tool_calls: list[ToolCallPublic] | None
    tool_call_id: str | None
    name: str | None
    is_error: bool
    created_at: datetime


class ConversationPublic(SQLModel):
    id: int
    title: str
    created_at: datetime
    updated_at: datetime


class ConversationDetail(ConversationPublic):
    messages: list[MessagePublic]


class ConversationPage(SQLModel):
    """Conversations, most recently active first; pass `next_cursor` back for more."""

    conversations: list[ConversationPublic]
    next_cursor: str | None
