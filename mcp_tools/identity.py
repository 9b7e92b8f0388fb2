"""Who a tool call acts as: always the verified token of the transport, never a tool argument.

Over HTTP the SDK's bearer middleware verifies the token and sets the auth context for the
request: an API token, a JWT, or an OAuth access token issued for this /mcp. Over stdio and
in process there is no HTTP request, so the session is opened inside
`acting_as(user)`, which sets the same context; the server's tasks inherit it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.auth.middleware.auth_context import auth_context_var, get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import PrivateAttr

from server.errors import Unauthorized
from server.oauth.service import OAuthService
from server.users.models import User
from server.users.service import OAUTH_ACCESS_TOKEN_PREFIX, UserService


class UserAccessToken(AccessToken):
    """The SDK's AccessToken with the verified `User` it stands for, so a tool call reads
    its user as verified instead of rebuilding one from the claims on every call (a
    SQLModel instance costs ~90 µs to build, a twentieth of a whole `get_task` call)."""

    _user: User = PrivateAttr()

    @property
    def user(self) -> User:
        return self._user


def access_token_for(
    user: User,
    token: str = "",
    *,
    client_id: str | None = None,
    scopes: list[str] | None = None,
    resource: str | None = None,
    expires_at: int | None = None,
) -> UserAccessToken:
    access = UserAccessToken(
        token=token,
        client_id=client_id or user.name,
        scopes=scopes or [],
        expires_at=expires_at,
        resource=resource,
        subject=str(user.id),
        claims={"name": user.name, "timezone": user.timezone, "email": user.email},
    )
    access._user = user
    return access


def current_user() -> User:
    """The user the current tool call acts as."""
    access = get_access_token()
    if not isinstance(access, UserAccessToken):
        raise ToolError("not authenticated: connect with a bearer token or `todo-agent mcp --user`")
    return access.user


@contextmanager
def acting_as(user: User) -> Iterator[None]:
    """Open an MCP session inside this block (stdio, in process) to act as `user`."""
    reset = auth_context_var.set(AuthenticatedUser(access_token_for(user)))
    try:
        yield
    finally:
        auth_context_var.reset(reset)


class BearerTokenVerifier:
    """The MCP SDK's TokenVerifier: the REST API's API tokens and JWTs, which are valid
    everywhere, and OAuth access tokens, valid here only.

    Each accepted token names its resource; the SDK's bearer middleware refuses one whose
    resource is not this server's /mcp (an OAuth token issued under another PUBLIC_URL)."""

    def __init__(self, users: UserService, oauth: OAuthService) -> None:
        self.users = users
        self.oauth = oauth

    async def verify_token(self, token: str) -> AccessToken | None:
        if token.startswith(OAUTH_ACCESS_TOKEN_PREFIX):
            access = await self.oauth.grants.verify_access(token)
            if access is None:
                return None
            return access_token_for(
                access.user,
                token,
                client_id=access.client_id,
                scopes=access.scopes,
                resource=access.resource,
                expires_at=int(access.expires_at.timestamp()),
            )
        try:
            user = await self.users.authenticate(token)
        except Unauthorized:
            return None
        return access_token_for(user, token, resource=self.oauth.resource)
