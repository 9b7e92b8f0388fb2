"""How the chat reaches its tools: always through an MCP client session acting as the user.

`EmbeddedTools` opens sessions on this process's own MCP server, in memory; `RemoteTools`
opens them on another todo-agent MCP endpoint (AGENT_MCP_URL) over streamable HTTP with the
chatting user's own bearer token. Both are `ToolConnector`s (server/conversations/chat.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from mcp.server import MCPServer

from agent.breaker import BreakerOpen, CircuitBreaker
from agent.mcp_client import (
    OnDemandSession,
    Toolbox,
    ToolServerUnreachable,
    connect_streamable_http,
)
from mcp_tools.session import in_process_client
from server.config import Settings
from server.users.models import User

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class RemoteTools:
    """Tools of another todo-agent MCP endpoint over streamable HTTP, acting as the user:
    the chat request's own bearer token goes with the session. Its circuit breaker counts
    sessions that could not be opened."""

    url: str
    timeout: float
    breaker: CircuitBreaker

    @asynccontextmanager
    async def __call__(self, user: User, token: str) -> AsyncIterator[Toolbox]:
        async with AsyncExitStack() as stack:
            try:
                async with self.breaker.guard(counts=lambda exc: isinstance(exc, Exception)):
                    tools = await stack.enter_async_context(
                        connect_streamable_http(self.url, token=token, http_timeout=self.timeout)
                    )
            except BreakerOpen as exc:
                raise ToolServerUnreachable(self.url, retry_in=exc.retry_in) from exc
            except Exception as exc:
                logger.warning("MCP server %s unreachable for user %s: %s", self.url, user.id, exc)
                raise ToolServerUnreachable(self.url) from exc
            yield tools


def tool_connector(settings: Settings, mcp: MCPServer) -> EmbeddedTools | RemoteTools:
    """The chat's tools: this process's own MCP server, or AGENT_MCP_URL's when set."""
    if settings.agent_mcp_url:
        breaker = CircuitBreaker(
            "remote_mcp",
            failures=settings.circuit_breaker_failures,
            cooldown=settings.circuit_breaker_cooldown_seconds,
        )
        return RemoteTools(
            settings.agent_mcp_url, timeout=settings.llm_timeout_seconds, breaker=breaker
        )
    return EmbeddedTools(mcp)
