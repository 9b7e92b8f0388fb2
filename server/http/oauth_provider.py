"""The MCP SDK's OAuth server handlers (registration, token, revocation) over our storage.

`OAuthProvider` is the SDK's `OAuthAuthorizationServerProvider`; the authorization endpoint
itself is ours (server/http/oauth.py), so `authorize` is never called. The SDK's client
authenticator compares client secrets in the clear; `HashedSecretAuthenticator` compares
their hashes, since only those are stored.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import TYPE_CHECKING
from urllib.parse import unquote

from mcp.server.auth.middleware.client_auth import AuthenticationError, ClientAuthenticator
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl, ConfigDict
from starlette.requests import Request

from server.oauth.clients import ClientRegistry, ClientRejected, RegisteredClient
from server.oauth.grants import InvalidGrant
from server.oauth.models import PendingCode, StoredToken
from server.users.service import hash_token

if TYPE_CHECKING:
    from server.oauth.service import OAuthService


class StoredCode(AuthorizationCode):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    pending: PendingCode


class StoredRefreshToken(RefreshToken):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    stored: StoredToken


class StoredAccessToken(AccessToken):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    stored: StoredToken


class OAuthProvider:
    """Adapts OAuthService to the SDK's provider protocol."""

    def __init__(self, oauth: OAuthService) -> None:
        self.oauth = oauth

    async def get_client(self, client_id: str) -> RegisteredClient | None:
        try:
            return await self.oauth.clients.resolve(client_id)
        except ClientRejected:
            return None

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        await self.oauth.clients.register(client_info)

    async def authorize(
        self, client: OAuthClientInformationFull, params: AuthorizationParams
    ) -> str:
        raise NotImplementedError("GET /oauth/authorize is served by server.http.oauth")

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> StoredCode | None:
        pending = await self.oauth.grants.find_code(authorization_code)
        if pending is None:
            return None
        return StoredCode(
            code=authorization_code,
            scopes=pending.scopes,
            expires_at=pending.expires_at.timestamp(),
            client_id=pending.client_id,
            code_challenge=pending.code_challenge,
            redirect_uri=AnyUrl(pending.redirect_uri),
            redirect_uri_provided_explicitly=pending.redirect_uri_given,
            resource=pending.resource,
            subject=str(pending.user_id),
            pending=pending,
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: StoredCode
    ) -> OAuthToken:
        try:
            return await self.oauth.grants.exchange_code(
                authorization_code.pending, refresh="refresh_token" in client.grant_types
            )
        except InvalidGrant as exc:
            raise TokenError("invalid_grant", exc.description) from None

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> StoredRefreshToken | None:
        stored = await self.oauth.grants.find_token(refresh_token)
        if stored is None or stored.kind != "refresh":
            return None
        return StoredRefreshToken(
            token=refresh_token,
            client_id=stored.client_id,
            scopes=stored.scopes,
            expires_at=int(stored.expires_at.timestamp()),
            resource=stored.resource,
            stored=stored,
        )

    async def exchange_refresh_token(
        self,
        client: OAuthClientInformationFull,
        refresh_token: StoredRefreshToken,
        scopes: list[str],
    ) -> OAuthToken:
        try:
            return await self.oauth.grants.rotate(refresh_token.stored, scopes=scopes)
        except InvalidGrant as exc:
            raise TokenError("invalid_grant", exc.description) from None

    async def load_access_token(self, token: str) -> StoredAccessToken | None:
        """For the revocation endpoint (bearer tokens on /mcp go through the MCP verifier)."""
        stored = await self.oauth.grants.find_token(token)
        if stored is None or stored.kind != "access":
            return None
        return StoredAccessToken(
            token=token,
            client_id=stored.client_id,
            scopes=stored.scopes,
            expires_at=int(stored.expires_at.timestamp()),
            resource=stored.resource,
            stored=stored,
        )

    async def revoke_token(self, token: StoredAccessToken | StoredRefreshToken) -> None:
        """RFC 7009: revoking either token ends the whole grant."""
        await self.oauth.grants.revoke_grant(token.stored.grant_id)


class HashedSecretAuthenticator(ClientAuthenticator):
    """Authenticates token and revocation requests against stored client-secret hashes.

    A public client (token_endpoint_auth_method "none", e.g. every metadata-document client)
    sends no secret: PKCE binds its code. A confidential one must send its secret, in the
    body or as HTTP Basic (some clients use the other method than the one they registered).
    """

    def __init__(self, clients: ClientRegistry) -> None:
        self.clients = clients

    async def authenticate_request(self, request: Request) -> RegisteredClient:
        form = await request.form()
        basic_id, basic_secret = _basic_credentials(request.headers.get("authorization", ""))
        client_id = form.get("client_id") or basic_id
        if not isinstance(client_id, str) or not client_id:
            raise AuthenticationError("client_id is missing")
        if basic_id is not None and basic_id != client_id:
            raise AuthenticationError("client_id in the body and in Basic authentication differ")
        try:
            client = await self.clients.resolve(client_id)
        except ClientRejected as exc:
            raise AuthenticationError(exc.description) from None
        if client.token_endpoint_auth_method == "none":
            return client
        posted = form.get("client_secret")
        secret = basic_secret if basic_secret is not None else posted
        if not isinstance(secret, str) or not secret:
            raise AuthenticationError("client_secret is required for this client")
        expected = client.client_secret_hash or ""
        if not hmac.compare_digest(hash_token(secret).encode(), expected.encode()):
            raise AuthenticationError("client_secret is wrong")
        return client


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    if not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError("invalid Basic authentication header") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise AuthenticationError("invalid Basic authentication header")
    return unquote(client_id), unquote(secret)
