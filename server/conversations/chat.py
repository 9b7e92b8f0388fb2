"""The chat: run the agent for one request, store each message as it completes, stream SSE.

The agent runs in its own task, owned by the response stream: when the client goes away the
stream cancels it (the model call and the tool calls with it), and what was produced so far
(partial text, finished tool results) is stored before the task ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from mcp.server import MCPServer

from agent.events import AgentEvent, AssistantTurn, Failed, TextDelta, ToolCall, ToolResult
from agent.llm import HOW_TO_CONFIGURE, build_llm_client
from agent.loop import Agent
from agent.mcp_client import OnDemandSession, Toolbox, connect_streamable_http
from agent.messages import assistant_message, system_message, tool_message, user_message
from agent.prompt import system_prompt
from mcp_tools.session import in_process_client
from server.config import Settings
from server.conversations.service import ConversationService, HistoryMessage, NewMessage, Turn
from server.db import utcnow
from server.users.models import User

logger = logging.getLogger(__name__)

# Opens the tools a chat uses, acting as the user (whose bearer token is given).
ToolConnector = Callable[[User, str], AbstractAsyncContextManager[Toolbox]]
Emit = Callable[[str, dict[str, Any]], None]

NO_RESULT = "no result: the request ended before this tool call finished"
NOT_STORED = "Could not store your message; try again shortly."
TOOLS_UNREACHABLE = "Could not reach the task tools; your message is saved, try again shortly."


def sse(event: str, data: dict[str, Any]) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"event: {event}\ndata: {payload}\n\n".encode()


def to_model_messages(history: Sequence[HistoryMessage]) -> list[dict[str, Any]]:
    """Stored messages as Chat Completions messages; a call without a stored result (the
    request ended first) gets one, since providers reject a call with no answer."""
    messages: list[dict[str, Any]] = []
    open_calls: list[str] = []

    def close_open_calls() -> None:
        messages.extend(tool_message(call_id, NO_RESULT) for call_id in open_calls)
        open_calls.clear()

    for row in history:
        if row.role == "tool":
            if row.tool_call_id in open_calls:
                open_calls.remove(row.tool_call_id)
                messages.append(tool_message(row.tool_call_id, row.content or ""))
            continue
        close_open_calls()
        if row.role == "user":
            messages.append(user_message(row.content or ""))
        else:
            calls = [ToolCall(**call) for call in row.tool_calls or ()]
            messages.append(assistant_message(row.content, calls))
            open_calls.extend(call.id for call in calls)
    close_open_calls()
    return messages


class EmbeddedTools:
    """Sessions on this process's own MCP server, in memory, acting as the given user.

    The server's tools are fixed when it is built, so the first session's listing serves
    every later one, and a session opens only when the model first calls a tool: a chat
    does not wait for either before the model starts answering.
    """

    def __init__(self, mcp: MCPServer) -> None:
        self.mcp = mcp
        self._listed: Toolbox | None = None

    @asynccontextmanager
    async def __call__(self, user: User, token: str) -> AsyncIterator[Toolbox]:
        session = OnDemandSession(lambda: in_process_client(self.mcp, user))
        try:
            if self._listed is None:
                self._listed = await Toolbox.load(session)
                yield self._listed
            else:
                yield self._listed.on(session)
        finally:
            await session.aclose()


def embedded_tools(mcp: MCPServer) -> ToolConnector:
    return EmbeddedTools(mcp)


class ToolServerUnreachable(Exception):
    """The remote MCP server did not answer (or refused the user's token)."""


def remote_tools(url: str, *, timeout: float) -> ToolConnector:
    """Tools of another todo-agent MCP endpoint (AGENT_MCP_URL) over streamable HTTP, acting
    as the user: the chat request's own bearer token goes with the session."""

    @asynccontextmanager
    async def connect(user: User, token: str) -> AsyncIterator[Toolbox]:
        async with AsyncExitStack() as stack:
            try:
                tools = await stack.enter_async_context(
                    connect_streamable_http(url, token=token, http_timeout=timeout)
                )
            except Exception as exc:
                logger.warning("MCP server %s unreachable for user %s: %s", url, user.id, exc)
                raise ToolServerUnreachable(url) from exc
            yield tools

    return connect


class _Recorder:
    """Stores one request's messages as they complete; knows what is still unfinished.

    `saving` stores the user's message (and creates a new conversation); every message of
    the answer is written after it.
    """

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
        if _succeeded(self.saving):
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

    async def stream(self, *, user: User, token: str, turn: Turn) -> AsyncIterator[bytes]:
        """The SSE body of one request; cancelling it cancels the agent's work."""
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
            if not _succeeded(saving):
                yield sse("error", {"message": NOT_STORED})
                return
            conversation_id = saving.result()

        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        def emit(event: str, data: dict[str, Any]) -> None:
            queue.put_nowait(sse(event, data))

        task = asyncio.create_task(
            self._respond(user, token, turn, _Recorder(self.conversations, saving), emit)
        )
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            await asyncio.sleep(0)  # the agent's request to the model goes out first
            yield sse("conversation", {"conversation_id": conversation_id})
            ended = False
            while not ended:
                # Events that piled up while the client was being written to (the model
                # streams faster than a busy server sends) go out in one write.
                events = [await queue.get()]
                while not queue.empty():
                    events.append(queue.get_nowait())
                ended = events[-1] is None  # the end mark is always last
                if body := b"".join(event for event in events if event is not None):
                    yield body
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
        self, user: User, token: str, turn: Turn, recorder: _Recorder, emit: Emit
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
                )
                messages = [
                    system_message(prompt),
                    *to_model_messages(turn.history),
                    user_message(turn.text),
                ]
                async for event in self.agent.run(messages, tools):
                    if not await self._handle(event, recorder, emit):
                        return
            await recorder.finish(emit, "done", {"message_id": recorder.last_assistant_id})
        except asyncio.CancelledError:
            await asyncio.wait([saving])  # the user's message is kept whatever happens
            if _succeeded(saving):
                await recorder.unfinished()
            raise
        except ToolServerUnreachable:
            await recorder.finish(emit, "error", {"message": TOOLS_UNREACHABLE})
        except Exception:
            logger.exception("chat for user %s failed", user.id)
            await asyncio.wait([saving])
            if not _succeeded(saving):
                emit("error", {"message": NOT_STORED})
                return
            try:
                await recorder.unfinished()
            except Exception:  # e.g. the database went down too: the answer still ends
                logger.exception("could not keep the partial answer of user %s", user.id)
            emit("error", {"message": "Something went wrong while answering; try again."})

    @staticmethod
    async def _handle(event: AgentEvent, recorder: _Recorder, emit: Emit) -> bool:
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
        elif isinstance(event, Failed):
            await recorder.unfinished()
            await recorder.finish(emit, "error", {"message": event.message})
            return False
        return True


def _succeeded(task: asyncio.Task[Any]) -> bool:
    return not task.cancelled() and task.exception() is None


def _log_if_not_stored(saving: asyncio.Task[int]) -> None:
    if not saving.cancelled() and saving.exception() is not None:
        logger.error("could not store a chat message", exc_info=saving.exception())


def _tool_call_data(call: ToolCall) -> dict[str, Any]:
    try:
        arguments: Any = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError:
        arguments = call.arguments
    return {"id": call.id, "name": call.name, "arguments": arguments}


def _tool_result_data(result: ToolResult) -> dict[str, Any]:
    data: dict[str, Any] = {"id": result.call.id, "name": result.call.name}
    if result.outcome.ok:
        return data | {"ok": True, "result": result.outcome.result}
    return data | {"ok": False, "error": result.outcome.error}


@asynccontextmanager
async def open_chat(
    settings: Settings,
    conversations: ConversationService,
    connect_tools: ToolConnector,
) -> AsyncIterator[Chat]:
    """The chat for the app's lifetime; owns (and closes) the provider client."""
    if not settings.llm_configured:
        logger.warning("no language model configured: the chat answers with how to set one")
        yield Chat(conversations=conversations, agent=None, connect_tools=connect_tools)
        return
    api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    client = build_llm_client(
        api_key=api_key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
    )
    agent = Agent(
        client=client, model=settings.llm_model, max_tool_rounds=settings.agent_max_tool_rounds
    )
    try:
        yield Chat(conversations=conversations, agent=agent, connect_tools=connect_tools)
    finally:
        await client.close()
