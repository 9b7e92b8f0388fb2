"""Conversations and their messages: every user message, assistant reply, tool call and result.

The server keeps no chat state between requests: each request reads the history it continues
from here and stores every message as it completes, so any replica can continue any
conversation, even after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.conversations import queries
from server.conversations.facade import Transcript, earlier_fingerprint
from server.conversations.history import Asking, HistoryMessage, bound_history
from server.conversations.models import (
    Conversation,
    ConversationDetail,
    ConversationPage,
    ConversationPublic,
    Message,
    MessagePublic,
    ToolCallPublic,
    shown_arguments,
)
from server.conversations.queries import NewMessage, conversation_not_found
from server.db import Database, check_id
from server.errors import ValidationFailed
from server.paging import decode_cursor, encode_cursor
from server.users.models import User
from server.validation import no_nul

__all__ = ["ConversationService", "NewMessage", "Turn"]

MESSAGE_MAX = 20_000
TITLE_MAX = 80
LIST_MAX = 200
CURSOR_LISTING = "conversations"


@dataclass(frozen=True, slots=True)
class Turn:
    """A chat request, checked and read but not yet stored (see `save_user_message`)."""

    user: User
    conversation_id: int | None  # None: a new conversation, created with the message
    text: str
    # The earlier messages that fit the budget, oldest first: stored ones when continuing a
    # conversation; a chat app's own history (`/v1`), stored with a new conversation.
    history: list[HistoryMessage]
    instructions: str | None = None  # a chat app's system messages (`/v1`)


def _title(text: str) -> str:
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1].rstrip() + "…"


def _check_message(field: str, text: str) -> None:
    if not text.strip():
        raise ValidationFailed(field, "must not be empty")
    if len(text) > MESSAGE_MAX:
        raise ValidationFailed(field, f"at most {MESSAGE_MAX} characters")
    no_nul(field, text)


def to_message_public(message: Message) -> MessagePublic:
    calls = None
    if message.tool_calls:
        calls = [
            ToolCallPublic(id=c["id"], name=c["name"], arguments=shown_arguments(c["arguments"]))
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
        _check_message("message", text)
        if conversation_id is None:
            return Turn(user=user, conversation_id=None, text=text, history=[])
        rows = await self.db.read_in_place(
            partial(queries.recent_history, user.id, conversation_id)
        )
        history = bound_history([*rows, Asking(text)], self.history_chars)[:-1]
        return Turn(user=user, conversation_id=conversation_id, text=text, history=history)

    async def begin_client_turn(self, *, user: User, transcript: Transcript) -> Turn:
        """A chat app's request (`/v1`): the model is given the client's own history; the
        stored conversation it continues is the one its earlier messages were remembered
        for (see `remember_answer`), else a new one is stored with that history."""
        _check_message(transcript.text_field, transcript.text)
        if transcript.instructions and len(transcript.instructions) > MESSAGE_MAX:
            raise ValidationFailed("messages", f"system messages: at most {MESSAGE_MAX} characters")
        conversation_id = None
        if transcript.earlier:
            work = partial(queries.find_fingerprint, user.id, earlier_fingerprint(transcript))
            conversation_id = await self.db.read_in_place(work)
        asking = [*transcript.earlier, Asking(transcript.text)]
        return Turn(
            user=user,
            conversation_id=conversation_id,
            text=transcript.text,
            history=bound_history(asking, self.history_chars)[:-1],
            instructions=transcript.instructions,
        )

    async def remember_answer(self, *, user: User, conversation_id: int, fingerprint: str) -> None:
        """Remember that the chat whose transcript has `fingerprint` continues
        `conversation_id` (server/conversations/facade.py)."""
        work = partial(queries.remember_fingerprint, user.id, conversation_id, fingerprint)
        await self.db.run(work, write=True)

    async def save_user_message(self, *, turn: Turn) -> int:
        """Store the turn's message, creating its conversation if new (with the history a
        chat app sent); the conversation id."""
        earlier = turn.history if turn.conversation_id is None else ()
        first = next((m.content for m in earlier if m.role == "user" and m.content), turn.text)
        work = partial(
            queries.save_user_message,
            turn.user,
            turn.conversation_id,
            turn.text,
            _title(first),
            earlier=earlier,
        )
        return await self.db.run(work, write=True)

    async def add_message(self, *, conversation_id: int, message: NewMessage) -> int:
        """Store one message of a conversation whose owner was checked by `begin_turn`."""
        work = partial(queries.add_message, conversation_id, message)
        return await self.db.run(work, write=True)

    # -- reads ----------------------------------------------------------------

    async def list_conversations(
        self, *, user: User, limit: int = 50, cursor: str | None = None
    ) -> ConversationPage:
        """The user's conversations, most recently active first."""
        if not 1 <= limit <= LIST_MAX:
            raise ValidationFailed("limit", f"must be between 1 and {LIST_MAX}")
        stmt = select(Conversation).where(Conversation.user_id == user.id)
        if cursor:
            updated_at, last_id = decode_cursor(cursor, CURSOR_LISTING, "di")
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
        next_cursor = None
        if more:
            next_cursor = encode_cursor(CURSOR_LISTING, [rows[-1].updated_at, rows[-1].id])
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
        check_id(conversation_id, conversation_not_found)
        conversation = await session.scalar(
            select(Conversation).where(
                Conversation.id == conversation_id, Conversation.user_id == user.id
            )
        )
        if conversation is None:
            raise conversation_not_found(conversation_id)
        return conversation
