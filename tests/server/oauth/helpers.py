"""Raw HTTP requests of the OAuth tests: token endpoint calls and bare /mcp requests."""

from __future__ import annotations

import httpx

from tests.conftest import Account
from tests.utils.oauth import MemoryStorage

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    },
}


async def mcp_post(http: httpx.AsyncClient, token: str | None) -> httpx.Response:
    """An MCP initialize request to /mcp with `token` as the bearer (or none)."""
    headers = {"Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await http.post("/mcp", json=INITIALIZE, headers=headers)


def assert_unauthorized_mcp(response: httpx.Response) -> None:
    """An HTTP 401 that tells an OAuth client where to sign in (never a 200 tool error)."""
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'resource_metadata="' in challenge
    assert "/.well-known/oauth-protected-resource/mcp" in challenge


def client_auth(storage: MemoryStorage) -> dict[str, str]:
    """The form fields that authenticate the connector's registered client."""
    info = storage.client_info
    fields = {"client_id": info.client_id}
    if info.client_secret:
        fields["client_secret"] = info.client_secret
    return fields


async def refresh(http: httpx.AsyncClient, storage: MemoryStorage, token: str) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token, **client_auth(storage)},
    )


async def list_grants(server, account: Account) -> list[dict]:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.get("/api/oauth/grants", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()["grants"]
