"""Conversations and their messages: every user message, assistant reply, tool call and result.

The server keeps no chat state between requests: each request reads the history it continues
from here and stores every message as it completes, so any replica can continue any
conversation, even after a restart.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, Protocol

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.conversations.models import (
    Conversation,
    ConversationDetail,
    ConversationPage,
    ConversationPublic,
    Message,
    MessagePublic,
    ToolCallPublic,
)
from server.db import MAX_ID, Database, utcnow
from server.errors import NotFound, ValidationFailed
from server.users.models import User
from server.validation import no_nul

MESSAGE_MAX = 20_000
TITLE_MAX = 80
LIST_MAX = 200
# Never read more rows than this for the model, whatever the budget.
HISTORY_ROWS_MAX = 400


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store; `tool_calls` as [{"id", "name", "arguments"}] with raw arguments."""

    role: Literal["user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[dict[str, str]] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False


class HistoryMessage(Protocol):
    """What the model's history needs of a stored message (a `Message`, or a row of it)."""

    @property
    def role(self) -> str: ...
    @property
    def content(self) -> str | None: ...
    @property
    def tool_calls(self) -> list[dict[str, Any]] | None: ...
    @property
    def tool_call_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class _Asking:
    """The message being answered, as `bound_history` sees it (not stored yet)."""

    content: str
    role: str = "user"
    tool_calls: None = None
    tool_call_id: None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """A chat request, checked and read but not yet stored (see `save_user_message`)."""

    user: User
    conversation_id: int | None  # None: a new conversation, created with the message
    text: str
    history: list[HistoryMessage]  # the earlier messages that fit the budget, oldest first


# The chat's statements run for every request and every message: Core statements built once
# (building one and computing its cache key costs more than running it), on `Database.run`.
CONVERSATIONS = Conversation.__table__
MESSAGES = Message.__table__
OWNED = select(CONVERSATIONS.c.id).where(
    CONVERSATIONS.c.id == bindparam("id"), CONVERSATIONS.c.user_id == bindparam("user_id")
)
RECENT = (
    select(MESSAGES.c.role, MESSAGES.c.content, MESSAGES.c.tool_calls, MESSAGES.c.tool_call_id)
    .join(CONVERSATIONS, CONVERSATIONS.c.id == MESSAGES.c.conversation_id)
    .where(CONVERSATIONS.c.id == bindparam("id"), CONVERSATIONS.c.user_id == bindparam("user_id"))
    .order_by(MESSAGES.c.id.desc())
    .limit(HISTORY_ROWS_MAX)
)
NEW_CONVERSATION = (
    insert(CONVERSATIONS)
    .values(created_at=bindparam("now"), updated_at=bindparam("now"))
    .returning(CONVERSATIONS.c.id)
)
NEW_MESSAGE = insert(MESSAGES).returning(MESSAGES.c.id)
TOUCH = (
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.id == bindparam("conversation"))
    .values(updated_at=bindparam("now"))
)


def _size(message: HistoryMessage) -> int:
    calls = message.tool_calls or ()
    return 16 + len(message.content or "") + sum(len(json.dumps(c)) for c in calls)


def bound_history(rows: Sequence[HistoryMessage], budget: int) -> list[HistoryMessage]:
    """The newest messages that fit in `budget` characters, never splitting a tool call from
    its results, starting at a user message; the newest group is always kept."""
    groups: list[list[HistoryMessage]] = []
    for row in rows:
        if row.role == "tool":
            if groups and groups[-1][0].tool_calls:
                groups[-1].append(row)
            continue  # its call was cut off by the row limit: drop it
        groups.append([row])
    kept: list[list[HistoryMessage]] = []
    used = 0
    for group in reversed(groups):
        size = sum(_size(m) for m in group)
        if kept and used + size > budget:
            break
        kept.append(group)
        used += size
    kept.reverse()
    while len(kept) > 1 and kept[0][0].role != "user":
        kept.pop(0)
    return [message for group in kept for message in group]


def _title(text: str) -> str:
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1].rstrip() + "…"


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        return raw


def to_message_public(message: Message) -> MessagePublic:
    calls = None
    if message.tool_calls:
        calls = [
            ToolCallPublic(id=c["id"], name=c["name"], arguments=_arguments(c["arguments"]))
            for c in message.tool_calls
        ]
    return MessagePublic(
        id=message.id,
        role=message.role,
        content=message.content,
        tool_calls=calls,
        tool_call_id=message.tool_call_id,
        name=message.name,
        is_error=message.is_error,
        created_at=message.created_at,
    )


def _public(conversation: Conversation) -> ConversationPublic:
    return ConversationPublic.model_validate(conversation, from_attributes=True)


class ConversationService:
    """Create, continue, list and read one user's conversations."""

    def __init__(self, *, db: Database, history_chars: int) -> None:
        self.db = db
        self.history_chars = history_chars

    # -- chat -----------------------------------------------------------------

    async def begin_turn(self, *, user: User, conversation_id: int | None, text: str) -> Turn:
        """Check a chat request and read the history it continues; nothing is written yet,
        so the model call need not wait for a write."""
        if not text.strip():
            raise ValidationFailed("message", "must not be empty")
        if len(text) > MESSAGE_MAX:
            raise ValidationFailed("message", f"at most {MESSAGE_MAX} characters")
        no_nul("message", text)
        if conversation_id is None:
            return Turn(user=user, conversation_id=None, text=text, history=[])
        rows = await self.db.run(partial(_recent_history, user.id, conversation_id))
        history = bound_history([*rows, _Asking(text)], self.history_chars)[:-1]
        return Turn(user=user, conversation_id=conversation_id, text=text, history=history)

    async def save_user_message(self, *, turn: Turn) -> int:
        """Store the turn's message, creating its conversation if new; the conversation id."""
        return await self.db.run(partial(_save_user_message, turn), write=True)

    async def add_message(self, *, conversation_id: int, message: NewMessage) -> int:
        """Store one message of a conversation whose owner was checked by `begin_turn`."""
        return await self.db.run(partial(_add_message, conversation_id, message), write=True)

    # -- reads ----------------------------------------------------------------

    async def list_conversations(
        self, *, user: User, limit: int = 50, cursor: str | None = None
    ) -> ConversationPage:
        """The user's conversations, most recently active first."""
        if not 1 <= limit <= LIST_MAX:
            raise ValidationFailed("limit", f"must be between 1 and {LIST_MAX}")
        stmt = select(Conversation).where(Conversation.user_id == user.id)
        if cursor:
            updated_at, last_id = _decode_cursor(cursor)
            stmt = stmt.where(
                or_(
                    Conversation.updated_at < updated_at,
                    and_(Conversation.updated_at == updated_at, Conversation.id < last_id),
                )
            )
        stmt = stmt.order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        async with self.db.session() as session:
            rows = list((await session.scalars(stmt.limit(limit + 1))).all())
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1]) if more else None
        return ConversationPage(conversations=[_public(c) for c in rows], next_cursor=next_cursor)

    async def get_conversation(self, *, user: User, conversation_id: int) -> ConversationDetail:
        """A conversation with all its messages, oldest first."""
        async with self.db.session() as session:
            conversation = await self._load(session, user, conversation_id)
            rows = await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.id)
            )
            messages = [to_message_public(m) for m in rows.all()]
        return ConversationDetail(**_public(conversation).model_dump(), messages=messages)

    @staticmethod
    async def _load(session: AsyncSession, user: User, conversation_id: int) -> Conversation:
        conversation = None
        if 1 <= conversation_id <= MAX_ID:  # else no such row; the database would reject it
            conversation = await session.scalar(
                select(Conversation).where(
                    Conversation.id == conversation_id, Conversation.user_id == user.id
                )
            )
        if conversation is None:
            raise _not_found(conversation_id)
        return conversation


def _not_found(conversation_id: int) -> NotFound:
    return NotFound(
        f"conversation {conversation_id} not found", details={"conversation_id": conversation_id}
    )


def _recent_history(user_id: int, conversation_id: int, conn: Connection) -> list[Any]:
    """The conversation's newest messages for the model, oldest first; NotFound unless the
    user owns it."""
    if not 1 <= conversation_id <= MAX_ID:  # no such row; the database would reject the id
        raise _not_found(conversation_id)
    params = {"id": conversation_id, "user_id": user_id}
    # A conversation is stored with its first message, so no rows means not the user's (the
    # second query only tells that apart from an empty conversation, should one ever exist).
    rows = conn.execute(RECENT, params).all()
    if not rows and conn.execute(OWNED, params).first() is None:
        raise _not_found(conversation_id)
    rows.reverse()
    return rows


def _save_user_message(turn: Turn, conn: Connection) -> int:
    now = utcnow()
    conversation_id = turn.conversation_id
    if conversation_id is None:
        values = {"user_id": turn.user.id, "title": _title(turn.text), "now": now}
        conversation_id = conn.execute(NEW_CONVERSATION, values).scalar_one()
    else:
        conn.execute(TOUCH, {"conversation": conversation_id, "now": now})
    _insert_message(conn, conversation_id, NewMessage("user", turn.text), now)
    return conversation_id


def _add_message(conversation_id: int, message: NewMessage, conn: Connection) -> int:
    now = utcnow()
    message_id = _insert_message(conn, conversation_id, message, now)
    conn.execute(TOUCH, {"conversation": conversation_id, "now": now})
    return message_id


def _insert_message(
    conn: Connection, conversation_id: int, message: NewMessage, now: datetime
) -> int:
    values = {
        "conversation_id": conversation_id,
        "role": message.role,
        "content": message.content,
        "tool_calls": message.tool_calls,
        "tool_call_id": message.tool_call_id,
        "name": message.name,
        "is_error": message.is_error,
        "created_at": now,
    }
    return conn.execute(NEW_MESSAGE, values).scalar_one()


def _encode_cursor(conversation: Conversation) -> str:
    raw = f"{conversation.updated_at.isoformat()}|{conversation.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, last_id = raw.partition("|")
        updated_at = datetime.fromisoformat(when)
        if updated_at.tzinfo is None:
            raise ValueError("naive cursor time")
        conversation_id = int(last_id)
        if not 1 <= conversation_id <= MAX_ID:
            raise ValueError("not a row id")
        # Converted here: a forged time at the edge of the calendar overflows in UTC.
        return updated_at.astimezone(UTC), conversation_id
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            "cursor", "is not a cursor from this listing; repeat the request without it"
        ) from None
