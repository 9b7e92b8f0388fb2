"""In-process MCP client sessions acting as a user (for the embedded agent and tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client
from mcp.server import MCPServer

from mcp_tools.identity import acting_as
from server.users.models import User


@asynccontextmanager
async def in_process_client(mcp: MCPServer, user: User, **options: Any) -> AsyncIterator[Client]:
    """An MCP client connected in memory to `mcp`, whose tool calls act as `user`
    (`options` go to the `Client`: callbacks, protocol mode)."""
    with acting_as(user):
        async with Client(mcp, **options) as client:
            yield client
