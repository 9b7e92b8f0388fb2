"""OAuth endpoints: discovery metadata, registration, authorization (the consent page),
token and revocation; and the REST routes of the consent page and of "Connected apps".

Registration and the token endpoint are the MCP SDK's handlers over our storage
(server/http/oauth_provider.py); the authorization endpoint is ours, so that errors reach
the person in the browser as a page and every redirect back to a client carries `iss`. The
OAuth endpoints are plain Starlette routes (`routes`, CORS-enabled as the SDK's are, for
browser-based clients); like every route they read the services from the lifespan state.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from mcp.server.auth.handlers.metadata import MetadataHandler, ProtectedResourceMetadataHandler
from mcp.server.auth.handlers.register import RegistrationHandler
from mcp.server.auth.handlers.token import TokenErrorResponse, TokenHandler
from mcp.server.auth.json_response import PydanticJSONResponse
from mcp.server.auth.middleware.client_auth import AuthenticationError
from mcp.server.auth.routes import cors_middleware
from mcp.server.auth.settings import ClientRegistrationOptions
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.routing import Route

from server.errors import NotFound
from server.http.deps import CurrentUser, ServicesDep, get_services
from server.http.errors import error_response
from server.http.oauth_provider import HashedSecretAuthenticator, OAuthProvider
from server.oauth.authorization import SCOPE, AuthorizeRefused, resource_matches
from server.oauth.models import ConsentDecision, ConsentPublic, ConsentRedirect, GrantList
from server.oauth.service import OAuthService
from server.web.views import SECURITY_HEADERS, STATIC_DIR

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
REGISTRATION = ClientRegistrationOptions(enabled=True, default_scopes=[SCOPE])

router = APIRouter(prefix="/api/oauth", tags=["oauth"])


async def _oauth(request: Request) -> OAuthService:
    return (await get_services(request)).oauth


async def resource_metadata(request: Request) -> Response:
    """RFC 9728 metadata of /mcp."""
    metadata = (await _oauth(request)).protected_resource_metadata()
    return await ProtectedResourceMetadataHandler(metadata).handle(request)


async def server_metadata(request: Request) -> Response:
    """RFC 8414 metadata of the authorization server."""
    metadata = (await _oauth(request)).authorization_server_metadata()
    return await MetadataHandler(metadata).handle(request)


async def register(request: Request) -> Response:
    """RFC 7591 dynamic client registration."""
    provider = OAuthProvider(await _oauth(request))
    return await RegistrationHandler(provider, options=REGISTRATION).handle(request)


async def token(request: Request) -> Response:
    """The authorization_code and refresh_token grants."""
    oauth = await _oauth(request)
    # RFC 8707: a token is only ever issued for /mcp; the SDK's handler does not look.
    resource = (await request.form()).get("resource")
    if isinstance(resource, str) and resource and not resource_matches(resource, oauth.resource):
        return _oauth_error(400, "invalid_target", f"resource must be {oauth.resource}")
    handler = TokenHandler(OAuthProvider(oauth), HashedSecretAuthenticator(oauth.clients))
    return await handler.handle(request)


async def revoke(request: Request) -> Response:
    """RFC 7009. The SDK's handler wants a client_secret even from public clients."""
    oauth = await _oauth(request)
    try:
        client = await HashedSecretAuthenticator(oauth.clients).authenticate_request(request)
    except AuthenticationError as exc:
        return _oauth_error(401, "invalid_client", exc.message)
    given = (await request.form()).get("token")
    if not isinstance(given, str) or not given:
        return _oauth_error(400, "invalid_request", "token is missing")
    stored = await oauth.grants.find_token(given)
    # Another client's token is left alone; the answer is the same either way (§2.2).
    if stored is not None and stored.client_id == client.client_id:
        await oauth.grants.revoke_grant(stored.grant_id)
    return Response(status_code=200, headers=NO_STORE)


async def authorize(request: Request) -> Response:
    """The consent page for a valid request; an error page or redirect for a bad one."""
    oauth = await _oauth(request)
    try:
        await oauth.authorizations.check(request.url.query)
    except AuthorizeRefused as refused:
        if refused.redirect_uri is None:
            return _error_page(refused)
        return RedirectResponse(
            oauth.authorizations.error_redirect(refused), status_code=302, headers=NO_STORE
        )
    return FileResponse(
        STATIC_DIR / "consent.html",
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, **NO_STORE},
    )


def _cors(path: str, endpoint: Callable[[Request], Awaitable[Response]], method: str) -> Route:
    """A route any origin may call from a browser (discovery, registration, tokens)."""
    methods = [method, "OPTIONS"]
    return Route(path, cors_middleware(endpoint, methods), methods=methods)


# All addressed from PUBLIC_URL (server/oauth/service.py); mounted by server/app.py.
routes = [
    _cors("/.well-known/oauth-protected-resource", resource_metadata, "GET"),
    _cors("/.well-known/oauth-protected-resource/mcp", resource_metadata, "GET"),
    _cors("/.well-known/oauth-authorization-server", server_metadata, "GET"),
    _cors("/oauth/register", register, "POST"),
    _cors("/oauth/token", token, "POST"),
    _cors("/oauth/revoke", revoke, "POST"),
    Route("/oauth/authorize", authorize, methods=["GET"]),
]


def _oauth_error(status: int, error: str, description: str) -> Response:
    return PydanticJSONResponse(
        content=TokenErrorResponse(error=error, error_description=description),
        status_code=status,
        headers=NO_STORE,
    )


ERROR_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <title>This app cannot connect · todo-agent</title>
  <link rel="icon" href="/static/icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/app.css">
</head>
<body>
  <main class="signin">
    <section class="signin-card" aria-labelledby="error-heading">
      <h1 class="brand"><span class="brand-mark" aria-hidden="true"></span>todo-agent</h1>
      <h2 id="error-heading">This app cannot connect</h2>
      <p class="form-error" role="alert"><code>{error}</code>: {description}</p>
      <p class="help">The app that sent you here asked for access in a way todo-agent does not
        accept, so you were not sent back to it and nothing was shared. The message above is
        for the app's developer.</p>
      <p><a href="/">Go to todo-agent</a></p>
    </section>
  </main>
</body>
</html>
"""


def _error_page(refused: AuthorizeRefused) -> HTMLResponse:
    """RFC 6749 §4.1.2.1: a bad client or redirect URI is told to the user, not redirected."""
    body = ERROR_PAGE.format(
        error=html.escape(refused.error), description=html.escape(refused.description)
    )
    return HTMLResponse(body, status_code=400, headers={**SECURITY_HEADERS, **NO_STORE})


# ---- REST routes of the web page ---------------------------------------------------------


@router.get("/consent", response_model=ConsentPublic)
async def describe_consent(request: Request, services: ServicesDep, user: CurrentUser):
    """What the consent page shows about the authorization request in the query string."""
    oauth = services.oauth
    try:
        checked = await oauth.authorizations.check(request.url.query)
    except AuthorizeRefused as refused:
        return error_response(400, refused.error, refused.description)
    return oauth.authorizations.describe(checked)


@router.post("/consent", response_model=ConsentRedirect)
async def decide_consent(
    services: ServicesDep, user: CurrentUser, decision: Annotated[ConsentDecision, Body()]
):
    """Approve or deny the request; answers where to send the browser (the client)."""
    oauth = services.oauth
    try:
        checked = await oauth.authorizations.check(decision.request.lstrip("?"))
    except AuthorizeRefused as refused:
        return error_response(400, refused.error, refused.description)
    url = await oauth.authorizations.decide(checked, user=user, approve=decision.approve)
    return ConsentRedirect(redirect_to=url)


@router.get("/grants", response_model=GrantList)
async def list_grants(services: ServicesDep, user: CurrentUser) -> GrantList:
    """The user's connected apps."""
    return GrantList(grants=await services.oauth.grants.list_grants(user=user))


@router.delete("/grants/{grant_id}", status_code=204)
async def revoke_grant(services: ServicesDep, user: CurrentUser, grant_id: int) -> Response:
    """Disconnect an app: every token it holds stops working."""
    if not await services.oauth.grants.revoke_grant(grant_id, user=user):
        raise NotFound(f"connected app {grant_id} not found")
    return Response(status_code=204)
