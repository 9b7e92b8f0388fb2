"""`todo-agent mcp`: the MCP server over stdio for desktop clients, acting as one user."""

from __future__ import annotations

import logging

from mcp_tools.identity import acting_as
from mcp_tools.server import create_mcp_server
from server.config import Settings
from server.errors import NotFound
from server.services import build_services

logger = logging.getLogger(__name__)


async def run_stdio(settings: Settings, *, user_name: str) -> int:
    """Serve MCP on stdin/stdout until the client closes it. stdout carries only protocol."""
    services = build_services(settings)
    try:
        await services.db.migrate()
        try:
            user = await services.users.get_user(name=user_name)
        except NotFound:
            if user_name != "me" or await services.users.count_users() > 0:
                raise NotFound(
                    f"user {user_name!r} not found; create it with: todo-agent user add {user_name}"
                ) from None
            user = await services.users.create_user(name="me")
        mcp = create_mcp_server(services)
        logger.info("MCP over stdio as user %s", user.name)
        with acting_as(user):
            await mcp.run_stdio_async()
        return 0
    finally:
        await services.db.dispose()
