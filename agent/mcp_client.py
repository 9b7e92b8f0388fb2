"""The agent's side of MCP: one client session's tools, as the model sees and calls them.

A `Toolbox` lists the session's tools once, offers them as OpenAI tool definitions, calls
them and turns every outcome (structured result, tool error, protocol error, bad arguments
from the model) into a `ToolOutcome` the loop can feed back. Who the calls act as is fixed
by the session (an in-process session opened for the user, a bearer token on the HTTP
client, `--user` on stdio), never by anything the model writes.

    async with connect_streamable_http(url, token=token) as tools: ...
    async with connect_stdio(StdioServerParameters(command="todo-agent", args=["mcp"])) as tools:
    async with open_toolbox(Client(server)) as tools: ...   # any mcp Client, e.g. in process

`OnDemandSession` opens its client only when a tool is first called, for a server whose
tool listing is already known (the embedded one, see server/conversations/chat.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, ListToolsResult, TextContent, Tool

logger = logging.getLogger(__name__)

# A listing longer than this many pages is a misbehaving server, not a big toolbox.
MAX_TOOL_PAGES = 20


class ToolServerUnreachable(Exception):
    """The MCP server did not answer (or refused the user's token) when a session opened;
    `retry_in` when its circuit breaker is open and no attempt was made."""

    def __init__(self, url: str, *, retry_in: float | None = None) -> None:
        super().__init__(url)
        self.url = url
        self.retry_in = retry_in


class ToolSession(Protocol):
    """What the toolbox needs from an MCP client session (`mcp.Client` is one)."""

    async def list_tools(self, *, cursor: str | None = None) -> ListToolsResult: ...

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None = None
    ) -> CallToolResult: ...


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What one tool call produced: `result` when ok, `error` otherwise; `content` for the model."""

    ok: bool
    content: str
    result: Any = None
    error: str | None = None

    @classmethod
    def failed(cls, error: str) -> ToolOutcome:
        return cls(ok=False, content=error, error=error)


def parse_arguments(text: str) -> dict[str, Any]:
    """The model's argument text as a JSON object; raises ValueError saying what is wrong."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"arguments are not valid JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(value, dict):
        raise ValueError("arguments must be a JSON object")
    return value


def lean_schema(schema: Any, *, properties: bool = False) -> Any:
    """`schema` without its `title` annotations: labels generated from the names beside
    them ("Remind Before Minutes"), which tell a model nothing and were a tenth of the tool
    definitions' size. `properties`: `schema` maps property names (one may be "title")."""
    if isinstance(schema, dict):
        return {
            key: lean_schema(value, properties=key in ("properties", "$defs") and not properties)
            for key, value in schema.items()
            if properties or key != "title"
        }
    if isinstance(schema, list):
        return [lean_schema(item) for item in schema]
    return schema


def to_openai_tool(tool: Tool) -> dict[str, Any]:
    """An MCP tool as a Chat Completions function tool, as lean as says the same."""
    description = tool.description or tool.title or tool.name
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": " ".join(description.split()),  # docstrings' indentation
            "parameters": lean_schema(tool.input_schema),
        },
    }


def _text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def to_outcome(result: CallToolResult) -> ToolOutcome:
    """A tool result as the model reads it: the structured content when there is some."""
    text = _text_of(result)
    if result.is_error:
        return ToolOutcome.failed(text or "the tool failed without a message")
    if result.structured_content is not None:
        content = json.dumps(result.structured_content, ensure_ascii=False, default=str)
        return ToolOutcome(ok=True, content=content, result=result.structured_content)
    return ToolOutcome(ok=True, content=text, result=text)


class Toolbox:
    """The tools of one MCP session, listed once when the session opens."""

    def __init__(
        self, session: ToolSession, tools: list[Tool], instructions: str | None = None
    ) -> None:
        self.session = session
        self.tools = {tool.name: tool for tool in tools}
        self.definitions = [to_openai_tool(tool) for tool in tools]
        # Encoded once: the same few kilobytes go into every request to the model.
        self.definitions_json = json.dumps(self.definitions, separators=(",", ":"))
        self.instructions = instructions  # the server's advice on using its tools

    def on(self, session: ToolSession) -> Toolbox:
        """The same tools on another session to the same server, without listing them again."""
        toolbox = copy.copy(self)
        toolbox.session = session
        return toolbox

    @classmethod
    async def load(cls, session: ToolSession) -> Toolbox:
        tools: list[Tool] = []
        cursor: str | None = None
        for _ in range(MAX_TOOL_PAGES):
            page = await session.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return cls(session, tools, getattr(session, "instructions", None))

    async def call(self, name: str, arguments: str) -> ToolOutcome:
        """Call `name` with the model's raw argument text; never raises for a bad call."""
        if name not in self.tools:
            known = ", ".join(sorted(self.tools)) or "none"
            return ToolOutcome.failed(f"unknown tool {name!r}; the tools are: {known}")
        try:
            parsed = parse_arguments(arguments)
        except ValueError as exc:
            return ToolOutcome.failed(f"{name}: {exc}; call it again with a JSON object")
        try:
            result = await self.session.call_tool(name, parsed)
        except MCPError as exc:
            return ToolOutcome.failed(f"{name} failed: {exc.message}")
        except (OSError, httpx2.HTTPError) as exc:
            logger.warning("tool %s unreachable: %s", name, exc)
            return ToolOutcome.failed(f"{name} could not be reached; try again later")
        return to_outcome(result)


class OnDemandSession:
    """A `ToolSession` whose client opens on first use and closes with `aclose()`.

    A chat whose model never calls a tool then never pays for a session. The client is held
    open by a task of its own, because an MCP client must be closed by the task that opened
    it, while the calls come from the agent's per-call tasks. Calls run in the context the
    client was opened in, as if the holding task made them: an in-process server reads who
    is acting from there.
    """

    def __init__(self, open_client: Callable[[], AbstractAsyncContextManager[Client]]) -> None:
        self._open_client = open_client
        self._opened: asyncio.Future[tuple[Client, contextvars.Context]] | None = None
        self._holder: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    @property
    def instructions(self) -> str | None:
        opened = self._opened
        if opened is None or not opened.done() or opened.cancelled() or opened.exception():
            return None
        return opened.result()[0].instructions

    async def list_tools(self, *, cursor: str | None = None) -> ListToolsResult:
        client, context = await self._client()
        return await asyncio.create_task(client.list_tools(cursor=cursor), context=context.copy())

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        client, context = await self._client()
        call = client.call_tool(name, arguments)
        # Awaiting the task directly: cancelling the caller cancels the call.
        return await asyncio.create_task(call, context=context.copy())

    async def aclose(self) -> None:
        if self._holder is None:
            return
        self._closing.set()
        await asyncio.wait([self._holder])

    async def _client(self) -> tuple[Client, contextvars.Context]:
        if self._opened is None:
            self._opened = asyncio.get_running_loop().create_future()
            self._holder = asyncio.create_task(self._hold(self._opened))
        # Shielded: a cancelled caller must not cancel the opening that other calls share.
        return await asyncio.shield(self._opened)

    async def _hold(self, opened: asyncio.Future[tuple[Client, contextvars.Context]]) -> None:
        try:
            async with self._open_client() as client:
                opened.set_result((client, contextvars.copy_context()))
                await self._closing.wait()
        except Exception as exc:
            if opened.done():
                logger.warning("closing an MCP session failed: %s", exc)
            else:
                opened.set_exception(exc)
        finally:
            if not opened.done():  # cancelled while opening
                opened.cancel()


@asynccontextmanager
async def open_toolbox(client: Client) -> AsyncIterator[Toolbox]:
    """Open `client` (not yet entered) and list its tools."""
    async with client:
        yield await Toolbox.load(client)


@asynccontextmanager
async def connect_streamable_http(
    url: str, *, token: str | None = None, http_timeout: float = 60.0
) -> AsyncIterator[Toolbox]:
    """Tools of a remote server over streamable HTTP, acting as the owner of `token`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=http_timeout) as http:
        async with open_toolbox(Client(streamable_http_client(url, http_client=http))) as tools:
            yield tools


@asynccontextmanager
async def connect_stdio(params: StdioServerParameters) -> AsyncIterator[Toolbox]:
    """Tools of a server run as a subprocess over stdio (`todo-agent mcp --user NAME`)."""
    async with open_toolbox(Client(params)) as tools:
        yield tools
