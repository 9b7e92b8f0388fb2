"""`todo-agent mcp`: the MCP server over stdio for desktop clients, acting as one user."""

from __future__ import annotations

import logging

from mcp.server import MCPServer

from mcp_tools.identity import acting_as
from server.errors import NotFound
from server.users.models import User
from server.users.service import UserService

logger = logging.getLogger(__name__)


async def run_stdio(mcp: MCPServer, users: UserService, *, user_name: str) -> None:
    """Serve MCP on stdin/stdout until the client closes it. stdout carries only protocol."""
    user = await _stdio_user(users, user_name)
    logger.info("MCP over stdio as user %s", user.name)
    with acting_as(user):
        await mcp.run_stdio_async()


async def _stdio_user(users: UserService, name: str) -> User:
    """The user to act as; the default `me` is created on an empty database."""
    try:
        return await users.get_user(name=name)
    except NotFound:
        if name != "me" or await users.count_users() > 0:
            raise NotFound(
                f"user {name!r} not found; create it with: todo-agent user add {name}"
            ) from None
        return await users.create_user(name="me")
