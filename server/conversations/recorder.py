"""The message recorder: stores one chat request's messages as they complete, and knows what
is still unfinished when the request ends early."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from agent.events import AssistantTurn, ToolCall, ToolResult
from server.conversations.history import NO_RESULT
from server.conversations.queries import NewMessage
from server.conversations.service import ConversationService

NOT_STORED = "Could not store your message; try again shortly."

Emit = Callable[[str, dict[str, Any]], None]


def succeeded(task: asyncio.Task[Any]) -> bool:
    return not task.cancelled() and task.exception() is None


class Recorder:
    """`saving` stores the user's message (and creates a new conversation); every message of
    the answer is written after it."""

    def __init__(self, conversations: ConversationService, saving: asyncio.Task[int]) -> None:
        self.conversations = conversations
        self.saving = saving
        self.pending_text: list[str] = []
        self.open_calls: dict[str, ToolCall] = {}
        self.last_assistant_id: int | None = None

    async def conversation_id(self) -> int:
        # Shielded: a cancelled request must still store the user's message.
        return await asyncio.shield(self.saving)

    async def finish(self, emit: Emit, event: str, data: dict[str, Any]) -> None:
        """Send the last event once the user's message is stored, or the error that it is not:
        an answer that stored nothing else has not waited for it yet."""
        await asyncio.wait([self.saving])
        if succeeded(self.saving):
            emit(event, data)
            return
        emit("error", {"message": NOT_STORED})

    async def assistant(self, turn: AssistantTurn) -> None:
        calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in turn.tool_calls]
        self.pending_text.clear()
        self.last_assistant_id = await self._add(
            NewMessage(role="assistant", content=turn.content or None, tool_calls=calls or None)
        )
        self.open_calls = {call.id: call for call in turn.tool_calls}

    async def tool_result(self, result: ToolResult) -> None:
        self.open_calls.pop(result.call.id, None)
        await self._add(
            NewMessage(
                role="tool",
                content=result.outcome.content,
                tool_call_id=result.call.id,
                name=result.call.name,
                is_error=not result.outcome.ok,
            )
        )

    async def unfinished(self) -> None:
        """Keep what an interrupted request produced: results for open calls, partial text."""
        for call in list(self.open_calls.values()):
            self.open_calls.pop(call.id)
            await self._add(
                NewMessage(
                    role="tool",
                    content=NO_RESULT,
                    tool_call_id=call.id,
                    name=call.name,
                    is_error=True,
                )
            )
        if self.pending_text:
            text = "".join(self.pending_text)
            self.pending_text.clear()
            self.last_assistant_id = await self._add(NewMessage(role="assistant", content=text))

    async def _add(self, message: NewMessage) -> int:
        # Shielded: the caller has already let go of the message (cleared the pending text,
        # closed the call), so a request cancelled meanwhile must still store it.
        store = self.conversations.add_message(
            conversation_id=await self.conversation_id(), message=message
        )
        return await asyncio.shield(store)
