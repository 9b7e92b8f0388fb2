"""Discovery from PUBLIC_URL, and which tokens work where: OAuth access tokens only at /mcp
(the resource they are bound to), API tokens and JWTs everywhere; "Connected apps"."""

from __future__ import annotations

import secrets
import time

import jwt
import pytest

from tests.server.oauth.helpers import INITIALIZE, assert_unauthorized_mcp
from tests.utils.oauth import mint_access_token

PUBLIC_URL = "https://todo.example.com"
SECRET = "a-shared-secret-" * 4
SHARED_API_SETTINGS = {"public_url": PUBLIC_URL, "auth_jwt_secret": SECRET}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


async def mcp_status(shared_api, token: str) -> int:
    response = await shared_api.client.post(
        "/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    )
    if response.status_code == 401:
        assert_unauthorized_mcp(response)
    return response.status_code


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]
)
async def test_protected_resource_metadata_names_mcp_and_its_issuer(shared_api, path):
    response = await shared_api.client.get(path)

    assert response.status_code == 200
    assert response.json() == {
        "resource": f"{PUBLIC_URL}/mcp",
        "authorization_servers": [PUBLIC_URL],
        "scopes_supported": ["tasks"],
        "bearer_methods_supported": ["header"],
        "resource_name": "todo-agent",
    }


async def test_authorization_server_metadata_comes_from_public_url(shared_api):
    metadata = (await shared_api.client.get("/.well-known/oauth-authorization-server")).json()

    assert metadata["issuer"] == PUBLIC_URL
    assert metadata["authorization_endpoint"] == f"{PUBLIC_URL}/oauth/authorize"
    assert metadata["token_endpoint"] == f"{PUBLIC_URL}/oauth/token"
    assert metadata["registration_endpoint"] == f"{PUBLIC_URL}/oauth/register"
    assert metadata["revocation_endpoint"] == f"{PUBLIC_URL}/oauth/revoke"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert metadata["client_id_metadata_document_supported"] is True
    assert metadata["authorization_response_iss_parameter_supported"] is True


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer tdoa_" + secrets.token_urlsafe(32), "Bearer nonsense", "Basic YTpi"],
    ids=["none", "unknown OAuth token", "garbage", "basic"],
)
async def test_every_401_from_mcp_points_to_the_resource_metadata(shared_api, authorization):
    headers = {**MCP_HEADERS, **({"Authorization": authorization} if authorization else {})}

    response = await shared_api.client.post("/mcp", json=INITIALIZE, headers=headers)

    assert_unauthorized_mcp(response)
    assert (
        f'resource_metadata="{PUBLIC_URL}/.well-known/oauth-protected-resource/mcp"'
        in response.headers["www-authenticate"]
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/me"),
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("POST", "/api/chat"),
        ("GET", "/api/conversations"),
        ("GET", "/api/notifications"),
        ("GET", "/api/oauth/grants"),
        ("POST", "/api/oauth/consent"),
    ],
)
async def test_oauth_access_token_is_refused_outside_mcp(shared_api, method, path):
    account = await shared_api.account(f"user-{secrets.token_hex(4)}")
    token = await mint_access_token(shared_api.services, account.user)
    body = {"title": "x", "message": "hi", "request": "", "approve": True}

    response = await shared_api.client.request(
        method,
        path,
        json=body if method == "POST" else None,
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 401
    assert "only at /mcp" in response.json()["error"]["message"]
    assert await mcp_status(shared_api, token) == 200


async def test_oauth_access_token_is_refused_by_the_events_stream_query_too(shared_api):
    account = await shared_api.account(f"user-{secrets.token_hex(4)}")
    token = await mint_access_token(shared_api.services, account.user)

    response = await shared_api.client.get("/api/events", params={"access_token": token})

    assert response.status_code == 401


async def test_api_tokens_and_jwts_keep_working_on_mcp_and_rest(shared_api):
    account = await shared_api.account(f"user-{secrets.token_hex(4)}")
    claims = {"sub": account.user.name, "exp": int(time.time()) + 3600}
    signed = jwt.encode(claims, SECRET, algorithm="HS256")

    for token in (account.token, signed):
        assert await mcp_status(shared_api, token) == 200
        me = await shared_api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["name"] == account.user.name


@pytest.mark.parametrize("state", ["expired", "revoked"])
async def test_expired_or_revoked_oauth_token_on_mcp_is_a_401(shared_api, state):
    account = await shared_api.account(f"user-{secrets.token_hex(4)}")
    token = await mint_access_token(shared_api.services, account.user, state)

    assert await mcp_status(shared_api, token) == 401


async def test_connected_apps_are_listed_and_revoked_by_their_user_only(shared_api):
    alice = await shared_api.account(f"alice-{secrets.token_hex(4)}")
    bob = await shared_api.account(f"bob-{secrets.token_hex(4)}")
    token = await mint_access_token(shared_api.services, alice.user)
    listed = (await shared_api.client.get("/api/oauth/grants", headers=alice.headers)).json()
    [grant] = listed["grants"]
    assert grant["client_name"] == "Minted app" and grant["last_used_at"] is None

    assert await mcp_status(shared_api, token) == 200
    [used] = (await shared_api.client.get("/api/oauth/grants", headers=alice.headers)).json()[
        "grants"
    ]
    assert used["last_used_at"] is not None
    assert (await shared_api.client.get("/api/oauth/grants", headers=bob.headers)).json() == {
        "grants": []
    }

    theirs = await shared_api.client.delete(f"/api/oauth/grants/{grant['id']}", headers=bob.headers)
    assert theirs.status_code == 404
    assert await mcp_status(shared_api, token) == 200

    mine = await shared_api.client.delete(f"/api/oauth/grants/{grant['id']}", headers=alice.headers)
    assert mine.status_code == 204
    # At once, although the token was verified (and remembered) a moment ago.
    assert await mcp_status(shared_api, token) == 401
    assert (await shared_api.client.get("/api/oauth/grants", headers=alice.headers)).json() == {
        "grants": []
    }


@pytest.mark.parametrize("grant_id", ["0", "-1", str(2**31), str(2**63)])
async def test_revoking_a_connected_app_that_cannot_exist_is_not_found(shared_api, grant_id):
    account = await shared_api.account(f"user-{secrets.token_hex(4)}")

    response = await shared_api.client.delete(
        f"/api/oauth/grants/{grant_id}", headers=account.headers
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
