"""Who a tool call acts as: always the verified token of the transport, never a tool argument.

Over HTTP the SDK's bearer middleware verifies the token and sets the auth context for the
request. Over stdio and in process there is no HTTP request, so the session is opened inside
`acting_as(user)`, which sets the same context; the server's tasks inherit it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.auth.middleware.auth_context import auth_context_var, get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver.exceptions import ToolError

from server.errors import Unauthorized
from server.users.models import User
from server.users.service import UserService


def access_token_for(user: User, token: str = "") -> AccessToken:
    return AccessToken(
        token=token,
        client_id=user.name,
        scopes=[],
        subject=str(user.id),
        claims={"name": user.name, "timezone": user.timezone, "email": user.email},
    )


def user_from_token(access: AccessToken) -> User:
    claims = access.claims or {}
    return User(
        id=int(access.subject or 0),
        name=claims.get("name", access.client_id),
        timezone=claims.get("timezone", "UTC"),
        email=claims.get("email"),
    )


def current_user() -> User:
    """The user the current tool call acts as."""
    access = get_access_token()
    if access is None or not access.subject:
        raise ToolError("not authenticated: connect with a bearer token or `todo-agent mcp --user`")
    return user_from_token(access)


@contextmanager
def acting_as(user: User) -> Iterator[None]:
    """Open an MCP session inside this block (stdio, in process) to act as `user`."""
    reset = auth_context_var.set(AuthenticatedUser(access_token_for(user)))
    try:
        yield
    finally:
        auth_context_var.reset(reset)


class ApiTokenVerifier:
    """The MCP SDK's TokenVerifier over the same API tokens and JWTs as the REST API."""

    def __init__(self, users: UserService) -> None:
        self.users = users

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            user = await self.users.authenticate(token)
        except Unauthorized:
            return None
        return access_token_for(user, token)
