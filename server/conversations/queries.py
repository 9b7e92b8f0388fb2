"""The conversation tables' statements and the units of work the chat runs on them.

The chat's statements run for every request and every message: Core statements built once
(building one and computing its cache key costs more than running it), each unit of work a
plain function of a sync connection, run by `Database.run` in one hop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, insert, select, update

from server.conversations.history import HistoryMessage
from server.conversations.models import Conversation, ConversationFingerprint, Message
from server.db import check_id, utcnow
from server.errors import NotFound
from server.users.models import User

# Never read more rows than this for the model, whatever the budget.
HISTORY_ROWS_MAX = 400

CONVERSATIONS = Conversation.__table__
MESSAGES = Message.__table__
FINGERPRINTS = ConversationFingerprint.__table__
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
FIND_FINGERPRINT = select(FINGERPRINTS.c.conversation_id).where(
    FINGERPRINTS.c.user_id == bindparam("owner"),
    FINGERPRINTS.c.fingerprint == bindparam("key"),
)
MOVE_FINGERPRINT = (
    update(FINGERPRINTS)
    .where(
        FINGERPRINTS.c.user_id == bindparam("owner"),
        FINGERPRINTS.c.fingerprint == bindparam("key"),
    )
    .values(conversation_id=bindparam("conversation"), created_at=bindparam("now"))
)
NEW_FINGERPRINT = insert(FINGERPRINTS).values(
    user_id=bindparam("owner"),
    fingerprint=bindparam("key"),
    conversation_id=bindparam("conversation"),
    created_at=bindparam("now"),
)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store; `tool_calls` as [{"id", "name", "arguments"}] with raw arguments."""

    role: Literal["user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[dict[str, str]] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False


def conversation_not_found(conversation_id: int) -> NotFound:
    return NotFound(
        f"conversation {conversation_id} not found", details={"conversation_id": conversation_id}
    )


def recent_history(user_id: int, conversation_id: int, conn: Connection) -> list[Any]:
    """The conversation's newest messages for the model, oldest first; NotFound unless the
    user owns it."""
    check_id(conversation_id, conversation_not_found)
    params = {"id": conversation_id, "user_id": user_id}
    # A conversation is stored with its first message, so no rows means not the user's (the
    # second query only tells that apart from an empty conversation, should one ever exist).
    rows = conn.execute(RECENT, params).all()
    if not rows and conn.execute(OWNED, params).first() is None:
        raise conversation_not_found(conversation_id)
    rows.reverse()
    return rows


def save_user_message(
    user: User,
    conversation_id: int | None,
    text: str,
    title: str,
    conn: Connection,
    *,
    earlier: Sequence[HistoryMessage] = (),
) -> int:
    """Store a user's message, creating its conversation (titled `title`) when new, with the
    `earlier` messages before it (a chat app's history this server has not stored); the
    conversation's id."""
    now = utcnow()
    if conversation_id is None:
        values = {"user_id": user.id, "title": title, "now": now}
        conversation_id = conn.execute(NEW_CONVERSATION, values).scalar_one()
        for message in earlier:
            said = NewMessage(role=message.role, content=message.content)
            _insert_message(conn, conversation_id, said, now)
    else:
        conn.execute(TOUCH, {"conversation": conversation_id, "now": now})
    _insert_message(conn, conversation_id, NewMessage("user", text), now)
    return conversation_id


def add_message(conversation_id: int, message: NewMessage, conn: Connection) -> int:
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


def find_fingerprint(user_id: int, fingerprint: str, conn: Connection) -> int | None:
    """The user's conversation a transcript with this fingerprint continues, if any."""
    return conn.execute(FIND_FINGERPRINT, {"owner": user_id, "key": fingerprint}).scalar()


def remember_fingerprint(
    user_id: int, conversation_id: int, fingerprint: str, conn: Connection
) -> None:
    """Remember that a transcript with this fingerprint continues `conversation_id` (the
    newest conversation wins when two chats reach the same transcript)."""
    params = {
        "owner": user_id,
        "key": fingerprint,
        "conversation": conversation_id,
        "now": utcnow(),
    }
    if conn.execute(MOVE_FINGERPRINT, params).rowcount == 0:
        conn.execute(NEW_FINGERPRINT, params)
