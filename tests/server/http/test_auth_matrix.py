"""The auth matrix: every route of the app (read from the app, so a new route cannot escape
it) with every kind of bad credentials, in the header and as `?access_token=`. Each is a
401 with `WWW-Authenticate: Bearer`, except on the public routes listed below; another
user's valid token never reads or changes the owner's data.

To add a kind of credentials, add a factory to CREDENTIALS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import jwt
import pytest

from server.app import create_app
from server.comments.models import CommentCreate
from server.runtime import open_runtime
from server.services import Services
from testkit.servers import serve_app
from tests.conftest import Account, make_account
from tests.utils.app import make_settings
from tests.utils.factories import make_project, make_task, snapshot
from tests.utils.oauth import mint_access_token
from tests.utils.routes import AppRoute, routes_at_collection

SECRET = "a-shared-secret-for-the-matrix-" * 2
OWNERS_MARK = "OWNER-ONLY-91c2"
# Routes anyone may call: the page, health, metrics, the API's own description, OAuth
# discovery, registration and the start of sign-in, and /v1's answer to unknown URLs.
PUBLIC = {
    "GET /",
    "GET /static/{name}",
    "GET /health/live",
    "GET /health/ready",
    "GET /metrics",
    "GET /openapi.json",
    "GET /docs",
    "GET /docs/oauth2-redirect",
    "GET /redoc",
    "GET /.well-known/oauth-authorization-server",
    "GET /.well-known/oauth-protected-resource",
    "GET /.well-known/oauth-protected-resource/mcp",
    "GET /oauth/authorize",
    "POST /oauth/register",
    *(f"{method} /v1/{{path:path}}" for method in ("GET", "POST", "PUT", "PATCH", "DELETE")),
}
# Routes with credentials of their own rather than a bearer token: OAuth clients at the
# token and revocation endpoints, the secret key in a calendar feed's URL.
OWN_CREDENTIALS = {"POST /oauth/token", "POST /oauth/revoke", "GET /ical/{feed_key}.ics"}
# Path parameters that name a row of the owner's: another user's token finds none of them.
OWNED = {"task_id", "conversation_id", "grant_id", "project_id"}
ROUTES = routes_at_collection()


@dataclass
class World:
    base_url: str
    client: httpx.AsyncClient
    services: Services
    owner: Account
    foreigner: Account
    revoked: str
    oauth_expired: str
    oauth_revoked: str
    grant_id: int
    task_id: int
    conversation_id: int
    project_id: int


def expired_jwt(world: World) -> str:
    claims = {"sub": world.owner.user.name, "exp": int(time.time()) - 3600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


CREDENTIALS: dict[str, Callable[[World], str | None]] = {
    "none": lambda world: None,
    "malformed": lambda world: "Bearer",
    "other scheme": lambda world: f"Basic {world.owner.token}",
    "wrong": lambda world: "Bearer tda_" + "x" * 43,
    "revoked": lambda world: f"Bearer {world.revoked}",
    "expired": lambda world: f"Bearer {expired_jwt(world)}",
    "forged JWT": lambda world: (
        "Bearer "
        + jwt.encode({"sub": world.owner.user.name, "exp": 2**31}, "x" * 32, algorithm="HS256")
    ),
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def world(request, tmp_path_factory) -> AsyncIterator[World]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('matrix')}/todo.db"
    else:
        url = request.getfixturevalue("postgres").new_database_url()
    settings = make_settings(
        database_url=url,
        auth_jwt_secret=SECRET,
        auth_failures_per_minute=0,
        chat_turns_per_minute=0,
    )
    async with open_runtime(settings) as runtime, serve_app(create_app(runtime)) as base_url:
        services = runtime.services
        owner = await make_account(services, "owner")
        foreigner = await make_account(services, "foreigner")
        revoked = await services.users.create_token(name="owner")
        await services.users.revoke_token(prefix=revoked[:16])
        oauth_expired = await mint_access_token(services, owner.user, "expired")
        oauth_revoked = await mint_access_token(services, owner.user, "revoked")
        await mint_access_token(services, owner.user, "valid")
        grant = (await services.oauth.grants.list_grants(user=owner.user))[0]
        project = await make_project(services, owner.user, f"{OWNERS_MARK} project")
        task = await make_task(
            services, owner.user, title=f"{OWNERS_MARK} task", project=project.id
        )
        await services.comments.add_comment(
            user=owner.user, task_id=task.id, data=CommentCreate(text=f"{OWNERS_MARK} note")
        )
        turn = await services.conversations.begin_turn(
            user=owner.user, conversation_id=None, text=f"{OWNERS_MARK} hello"
        )
        talk = await services.conversations.save_user_message(turn=turn)
        before = await snapshot(services, owner)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            yield World(
                base_url,
                client,
                services,
                owner,
                foreigner,
                revoked,
                oauth_expired,
                oauth_revoked,
                grant.id,
                task.id,
                talk,
                project.id,
            )
        assert await snapshot(services, owner) == before, "the owner's data changed"


def request_for(world: World, route: AppRoute) -> tuple[str, dict | None]:
    url = route.url(
        task_id=world.task_id,
        project_id=world.project_id,
        conversation_id=world.conversation_id,
        grant_id=world.grant_id,
        name="app.js",
        feed_key="not-a-feed-key",
        model="todo-agent",
        path="files",
    )
    body = None
    if route.path == "/mcp" and route.method == "POST":
        arguments = {"task_id": world.task_id}
        params = {"name": "get_task", "arguments": arguments}
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    elif route.path == "/api/chat":
        body = {"message": "what is on my list?"}
    elif route.path.endswith("/comments"):
        body = {"text": "written by someone else"}
    elif route.method in ("POST", "PATCH") and "/api/projects" in route.path:
        body = {"name": "changed by someone else"}
    elif route.method in ("POST", "PATCH"):
        body = {"title": "changed by someone else"} if "tasks" in route.path else {}
    return url, body


async def send(world: World, route: AppRoute, authorization: str | None, place: str):
    url, body = request_for(world, route)
    headers = {"Accept": "application/json, text/event-stream"}
    params = {}
    if authorization is not None and place == "header":
        headers["Authorization"] = authorization
    elif authorization is not None:
        params["access_token"] = authorization.removeprefix("Bearer ")
    async with world.client.stream(
        route.method, url, json=body, headers=headers, params=params
    ) as response:
        chunks = []

        async def read() -> None:
            async for chunk in response.aiter_raw():
                chunks.append(chunk)

        try:  # live streams stay open: what arrives in a moment is enough
            await asyncio.wait_for(read(), timeout=0.3)
        except TimeoutError:
            pass
    return response, b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("place", ["header", "query"])
@pytest.mark.parametrize("kind", list(CREDENTIALS))
@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_bad_credentials_are_refused_on_every_route(world, route, kind, place):
    response, text = await send(world, route, CREDENTIALS[kind](world), place)

    assert response.status_code < 500, text
    assert OWNERS_MARK not in text
    if str(route) in PUBLIC:
        assert response.status_code != 401, text
        return
    if str(route) in OWN_CREDENTIALS:
        return
    assert response.status_code == 401, (route, kind, text)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if str(r) not in PUBLIC | OWN_CREDENTIALS], ids=str
)
async def test_another_users_token_never_reaches_the_owners_data(world, route):
    response, text = await send(world, route, f"Bearer {world.foreigner.token}", "header")

    assert response.status_code not in (401, 403) and response.status_code < 500, text
    assert OWNERS_MARK not in text
    if OWNED & set(route.parameters):  # a route naming a row of the owner's: not found
        assert response.status_code == 404, text
    if route.path == "/mcp" and route.method == "POST":
        assert "not found" in text, text


def test_the_matrix_covers_every_route():
    protected = {str(r) for r in ROUTES} - PUBLIC - OWN_CREDENTIALS
    assert {"POST /api/tasks", "GET /api/events", "POST /mcp", "POST /api/chat"} <= protected
    # No stale entry hides a removed route.
    assert PUBLIC | OWN_CREDENTIALS <= {str(r) for r in ROUTES}
