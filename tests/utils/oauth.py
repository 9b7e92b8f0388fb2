"""Helpers for the OAuth tests: the SDK's own OAuth client, a headless consent giver that
makes the consent page's request, an https host for metadata documents, and
`mint_access_token` for tests that need an OAuth access token of a user (valid, expired or
revoked) without running the whole flow (e.g. tables of credentials against every route).
"""

from __future__ import annotations

import contextlib
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import httpx2
import trustme
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from sqlalchemy import func, select, update
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from server.db import utcnow
from server.oauth.models import OAuthClient, OAuthCode, OAuthGrant
from server.oauth.models import OAuthToken as TokenRow
from server.services import Services
from server.users.models import User
from server.users.service import hash_token
from testkit.servers import serve_app

CALLBACK = "http://127.0.0.1:9/callback"  # never listened on: the tests read the redirect


class MemoryStorage:
    """The SDK client's TokenStorage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def redirect_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


@dataclass
class ConsentGiver:
    """The user at the consent page, without a browser: it loads the page the authorize URL
    serves, then sends the page's own request (POST /api/oauth/consent) with the user's API
    token. `asked` counts the consents given; `pages` keeps the authorize URLs seen."""

    base_url: str
    token: str
    approve: bool = True
    pages: list[str] = field(default_factory=list)
    _result: AuthorizationCodeResult | None = None

    @property
    def asked(self) -> int:
        return len(self.pages)

    async def redirect(self, authorization_url: str) -> None:
        self.pages.append(authorization_url)
        async with httpx.AsyncClient() as http:
            page = await http.get(authorization_url)
            assert page.status_code == 200, page.text
            assert "/static/consent.js" in page.text
            answer = await http.post(
                f"{self.base_url}/api/oauth/consent",
                json={"request": urlsplit(authorization_url).query, "approve": self.approve},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        assert answer.status_code == 200, answer.text
        params = redirect_params(answer.json()["redirect_to"])
        self._result = AuthorizationCodeResult(
            code=params.get("code", ""), state=params.get("state"), iss=params.get("iss")
        )

    async def callback(self) -> AuthorizationCodeResult:
        assert self._result is not None
        return self._result


def connector(
    base_url: str,
    consent: Callable | ConsentGiver,
    *,
    storage: MemoryStorage | None = None,
    client_metadata_url: str | None = None,
    redirect_uri: str = CALLBACK,
    name: str = "Test connector",
) -> OAuthClientProvider:
    """The MCP SDK's OAuth client for `base_url`/mcp, as a remote connector would run it."""
    redirect, callback = (
        (consent.redirect, consent.callback) if isinstance(consent, ConsentGiver) else consent
    )
    return OAuthClientProvider(
        server_url=f"{base_url}/mcp",
        client_metadata=OAuthClientMetadata(client_name=name, redirect_uris=[redirect_uri]),
        storage=storage or MemoryStorage(),
        redirect_handler=redirect,
        callback_handler=callback,
        client_metadata_url=client_metadata_url,
    )


@contextlib.asynccontextmanager
async def oauth_mcp_client(base_url: str, auth: OAuthClientProvider) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30) as http,
        Client(streamable_http_client(f"{base_url}/mcp", http_client=http)) as client,
    ):
        yield client


async def mint_access_token(services: Services, user: User, state: str = "valid") -> str:
    """An OAuth access token of `user` for /mcp, issued through the service's own code
    exchange: "valid", "expired" (past its lifetime) or "revoked" (its grant revoked)."""
    assert state in ("valid", "expired", "revoked"), state
    oauth = services.oauth
    client_id = str(uuid.uuid4())
    await oauth.clients.register(
        OAuthClientInformationFull(
            client_id=client_id,
            client_name="Minted app",
            redirect_uris=[CALLBACK],
            token_endpoint_auth_method="none",
        )
    )
    code = await oauth.grants.issue_code(
        user=user,
        client_id=client_id,
        client_name="Minted app",
        redirect_uri=CALLBACK,
        redirect_uri_given=True,
        code_challenge="x" * 43,
        scopes=["tasks"],
        resource=oauth.resource,
    )
    tokens = await oauth.grants.exchange_code(await oauth.grants.find_code(code), refresh=True)
    if state == "expired":
        async with services.db.transaction() as session:
            await session.execute(
                update(TokenRow)
                .where(TokenRow.token_hash == hash_token(tokens.access_token))
                .values(expires_at=utcnow() - timedelta(minutes=1))
            )
    elif state == "revoked":
        stored = await oauth.grants.find_token(tokens.access_token)
        await oauth.grants.revoke_grant(stored.grant_id)
    return tokens.access_token


async def expire_code(services: Services, code: str) -> None:
    """Age an issued authorization code past its lifetime (two minutes)."""
    async with services.db.transaction() as session:
        await session.execute(
            update(OAuthCode)
            .where(OAuthCode.code_hash == hash_token(code))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


async def oauth_rows(services: Services) -> dict[str, int]:
    """How many rows each OAuth table has: what a refused request must leave as it was."""
    counts = {}
    async with services.db.session() as session:
        for table in (OAuthClient, OAuthCode, OAuthGrant, TokenRow):
            counts[table.__tablename__] = int(
                await session.scalar(select(func.count()).select_from(table)) or 0
            )
    return counts


@dataclass
class DocumentHost:
    """An https server for Client ID Metadata Documents, with a certificate of a test CA;
    `trust` is the TLS context that trusts it (hand it to MetadataDocuments)."""

    base_url: str
    trust: ssl.SSLContext
    documents: dict[str, Response]

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"


@contextlib.asynccontextmanager
async def document_host() -> AsyncIterator[DocumentHost]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    documents: dict[str, Response] = {}

    async def serve(request) -> Response:
        return documents.get(request.path_params["name"]) or Response(status_code=404)

    app = Starlette(routes=[Route("/{name}", serve)])
    with cert.cert_chain_pems[0].tempfile() as certfile, cert.private_key_pem.tempfile() as keyfile:
        async with serve_app(app, ssl_certfile=certfile, ssl_keyfile=keyfile) as base_url:
            yield DocumentHost(base_url=base_url, trust=trust, documents=documents)
