"""The chat: run the agent for one request, store each message as it completes, stream SSE.

The agent runs in its own task, owned by the response stream: when the client goes away the
stream cancels it (the model call and the tool calls with it), and what was produced so far
(partial text, finished tool results) is stored before the task ends. The tools come from a
`ToolConnector` (mcp_tools/connectors.py): always an MCP client session acting as the user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, aclosing
from typing import Any, Protocol

import anyio

from agent.events import (
    AgentEvent,
    AssistantTurn,
    Failed,
    TextDelta,
    ToolCall,
    ToolResult,
    Usage,
)
from agent.llm import HOW_TO_CONFIGURE
from agent.loop import Agent
from agent.mcp_client import Toolbox, ToolServerUnreachable
from agent.messages import system_message, user_message
from agent.prompt import system_prompt
from server.conversations.history import to_model_messages
from server.conversations.models import shown_arguments
from server.conversations.recorder import NOT_STORED, Emit, Recorder, succeeded
from server.conversations.service import ConversationService, Turn
from server.db import utcnow
from server.sse import sse
from server.users.models import User

logger = logging.getLogger(__name__)

TOOLS_UNREACHABLE = "Could not reach the task tools; your message is saved, try again shortly."
TOOLS_COOLING_DOWN = (
    "The task tools failed several times in a row, so they are not being tried again for "
    "{seconds} s. Your message is saved; try again then."
)

# One event of a chat request: its name and data (see `Chat.events`).
ChatEvent = tuple[str, dict[str, Any]]


class ToolConnector(Protocol):
    """Opens the tools a chat uses, acting as `user` (whose bearer token is `token`)."""

    def __call__(self, user: User, token: str) -> AbstractAsyncContextManager[Toolbox]: ...


class Chat:
    """Answers chat requests with the agent; without a provider, with how to configure one."""

    def __init__(
        self,
        *,
        conversations: ConversationService,
        agent: Agent | None,
        connect_tools: ToolConnector,
    ) -> None:
        self.conversations = conversations
        self.agent = agent
        self.connect_tools = connect_tools

    @property
    def has_model(self) -> bool:
        return self.agent is not None

    async def stream(self, *, user: User, token: str, turn: Turn) -> AsyncIterator[bytes]:
        """The SSE body of one `/api/chat` request; cancelling it cancels the agent's work."""
        async with aclosing(self.events(user=user, token=token, turn=turn)) as batches:
            async for batch in batches:
                yield b"".join(sse(name, data) for name, data in batch)

    async def events(
        self, *, user: User, token: str, turn: Turn, usage: bool = False
    ) -> AsyncIterator[list[ChatEvent]]:
        """One request's events, in batches: `conversation` first, then `delta`, `tool_call`,
        `tool_result` (and `usage` when asked for), then `done` or `error`. Each encoder
        (the SSE of `/api/chat`, the `/v1` façade's chunks) writes a batch in one go.
        Closing or cancelling it cancels the agent's work."""
        saving = asyncio.create_task(self._store_message(turn))
        # Logged when it fails, whether or not a client still waits for it.
        saving.add_done_callback(_log_if_not_stored)
        conversation_id = turn.conversation_id
        if conversation_id is None:
            # `conversation` comes first, and a new one's id comes from storing its first
            # message, so that is stored before the model is asked. (Asking alongside and
            # holding the answer back until the id is known measured ~1 ms slower to the
            # first delta: the store's thread competes with the request for the interpreter.)
            await asyncio.wait([saving])
            if not succeeded(saving):
                yield [("error", {"message": NOT_STORED})]
                return
            conversation_id = saving.result()

        queue: asyncio.Queue[ChatEvent | None] = asyncio.Queue()

        def emit(event: str, data: dict[str, Any]) -> None:
            queue.put_nowait((event, data))

        recorder = Recorder(self.conversations, saving)
        task = asyncio.create_task(self._respond(user, token, turn, recorder, emit, usage))
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            await asyncio.sleep(0)  # the agent's request to the model goes out first
            yield [("conversation", {"conversation_id": conversation_id})]
            ended = False
            while not ended:
                # Events that piled up while the client was being written to (the model
                # streams faster than a busy server sends) go out in one write.
                events = [await queue.get()]
                while not queue.empty():
                    events.append(queue.get_nowait())
                ended = events[-1] is None  # the end mark is always last
                if batch := [event for event in events if event is not None]:
                    yield batch
        finally:
            task.cancel()
            # Wait for the agent to store what it produced, even while being cancelled.
            with anyio.CancelScope(shield=True):
                await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                logger.error("chat task failed", exc_info=task.exception())

    async def _store_message(self, turn: Turn) -> int:
        # Continuing a conversation, the message is stored while the model thinks. Yield once
        # first: the agent's task, created after this one, then runs until its request to the
        # model is on its way. Started at once, the store's database thread competes with
        # building that request for the interpreter (measured: ~1 ms later first delta).
        await asyncio.sleep(0)
        return await self.conversations.save_user_message(turn=turn)

    async def _respond(
        self, user: User, token: str, turn: Turn, recorder: Recorder, emit: Emit, usage: bool
    ) -> None:
        saving = recorder.saving
        try:
            if self.agent is None:
                await recorder.finish(emit, "error", {"message": HOW_TO_CONFIGURE})
                return
            async with self.connect_tools(user, token) as tools:
                prompt = system_prompt(
                    now=utcnow(),
                    timezone=user.timezone,
                    user_name=user.name,
                    server_instructions=tools.instructions,
                    client_instructions=turn.instructions,
                )
                messages = [
                    system_message(prompt),
                    *to_model_messages(turn.history),
                    user_message(turn.text),
                ]
                async for event in self.agent.run(messages, tools, usage=usage):
                    if not await self._handle(event, recorder, emit):
                        return
            await recorder.finish(emit, "done", {"message_id": recorder.last_assistant_id})
        except asyncio.CancelledError:
            await asyncio.wait([saving])  # the user's message is kept whatever happens
            if succeeded(saving):
                await recorder.unfinished()
            raise
        except ToolServerUnreachable as exc:
            message = TOOLS_UNREACHABLE
            if exc.retry_in is not None:
                message = TOOLS_COOLING_DOWN.format(seconds=round(exc.retry_in))
            await recorder.finish(emit, "error", {"message": message})
        except Exception:
            logger.exception("chat for user %s failed", user.id)
            await asyncio.wait([saving])
            if not succeeded(saving):
                emit("error", {"message": NOT_STORED})
                return
            try:
                await recorder.unfinished()
            except Exception:  # e.g. the database went down too: the answer still ends
                logger.exception("could not keep the partial answer of user %s", user.id)
            emit("error", {"message": "Something went wrong while answering; try again."})

    @staticmethod
    async def _handle(event: AgentEvent, recorder: Recorder, emit: Emit) -> bool:
        """Store and send one agent event; False when the answer ended in an error."""
        if isinstance(event, TextDelta):
            recorder.pending_text.append(event.text)
            emit("delta", {"text": event.text})
            if len(recorder.pending_text) == 1:
                # The turn's first text goes out now, before the next chunk is read. Later
                # ones go when the model's stream waits for the network: chunks that arrived
                # together leave in one write.
                await asyncio.sleep(0)
        elif isinstance(event, AssistantTurn):
            await recorder.assistant(event)
            for call in event.tool_calls:
                emit("tool_call", _tool_call_data(call))
        elif isinstance(event, ToolResult):
            await recorder.tool_result(event)
            emit("tool_result", _tool_result_data(event))
        elif isinstance(event, Usage):
            tokens = {"prompt_tokens": event.prompt_tokens}
            emit("usage", tokens | {"completion_tokens": event.completion_tokens})
        elif isinstance(event, Failed):
            await recorder.unfinished()
            error: dict[str, Any] = {"message": event.message}
            if event.status is not None:
                error["status"] = event.status  # the provider's, e.g. 429 when it throttles
            await recorder.finish(emit, "error", error)
            return False
        return True


def _log_if_not_stored(saving: asyncio.Task[int]) -> None:
    if not saving.cancelled() and saving.exception() is not None:
        logger.error("could not store a chat message", exc_info=saving.exception())


def _tool_call_data(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": shown_arguments(call.arguments)}


def _tool_result_data(result: ToolResult) -> dict[str, Any]:
    data: dict[str, Any] = {"id": result.call.id, "name": result.call.name}
    if result.outcome.ok:
        return data | {"ok": True, "result": result.outcome.result}
    return data | {"ok": False, "error": result.outcome.error}
