"""The whole sign-in of a remote connector, run by the MCP SDK's own OAuth client against a
real server: discovery, registration, consent, tool calls, refresh, reuse, revocation."""

from __future__ import annotations

import asyncio

import httpx
from starlette.responses import JSONResponse

from tests.server.oauth.conftest import running_oauth_server
from tests.server.oauth.helpers import (
    assert_unauthorized_mcp,
    client_auth,
    list_grants,
    mcp_post,
    refresh,
)
from tests.utils.mcp import call
from tests.utils.oauth import (
    CALLBACK,
    MemoryStorage,
    connector,
    oauth_mcp_client,
    oauth_rows,
    redirect_params,
)


async def test_connector_signs_in_by_dynamic_registration_and_acts_as_the_user(oauth_server):
    consent = oauth_server.consent()
    auth = connector(oauth_server.base_url, consent)

    async with oauth_mcp_client(oauth_server.base_url, auth) as client:
        added = await call(client, "add_task", title="Water the plants")
        listed = await call(client, "list_tasks")

    assert consent.asked == 1
    assert [t["title"] for t in listed["tasks"]] == ["Water the plants"]
    # The task is alice's: her REST view shows it, bob's does not.
    async with httpx.AsyncClient(base_url=oauth_server.base_url) as http:
        mine = (await http.get("/api/tasks", headers=oauth_server.alice.headers)).json()
        theirs = (await http.get("/api/tasks", headers=oauth_server.bob.headers)).json()
    assert [t["id"] for t in mine["tasks"]] == [added["id"]]
    assert theirs["tasks"] == []
    rows = await oauth_rows(oauth_server.services)
    assert rows["oauth_clients"] == 1 and rows["oauth_grants"] == 1


async def test_connector_signs_in_with_a_client_id_metadata_document(oauth_server, documents):
    url = documents.url("connector.json")
    documents.documents["connector.json"] = JSONResponse(
        {
            "client_id": url,
            "client_name": "Metadata connector",
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "none",
        }
    )
    consent = oauth_server.consent()
    auth = connector(oauth_server.base_url, consent, client_metadata_url=url)

    async with oauth_mcp_client(oauth_server.base_url, auth) as client:
        await call(client, "add_task", title="Renew the passport")

    assert redirect_params(consent.pages[0])["client_id"] == url
    grants = await list_grants(oauth_server, oauth_server.alice)
    assert [g["client_name"] for g in grants] == ["Metadata connector"]
    rows = await oauth_rows(oauth_server.services)
    assert rows["oauth_clients"] == 0, "a metadata-document client is not registered"


async def test_refresh_rotates_tokens_and_reusing_an_old_one_revokes_the_grant(oauth_server):
    storage = MemoryStorage()
    auth = connector(oauth_server.base_url, oauth_server.consent(), storage=storage)
    async with oauth_mcp_client(oauth_server.base_url, auth) as client:
        await call(client, "list_tasks")
    first = storage.tokens

    async with httpx.AsyncClient(base_url=oauth_server.base_url) as http:
        refreshed = await refresh(http, storage, first.refresh_token)
        assert refreshed.status_code == 200, refreshed.text
        second = refreshed.json()
        assert second["expires_in"] == 3600 and second["token_type"] == "Bearer"
        assert second["access_token"] != first.access_token
        assert second["refresh_token"] != first.refresh_token
        assert (await mcp_post(http, second["access_token"])).status_code == 200

        reused = await refresh(http, storage, first.refresh_token)

        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        assert "revoked" in reused.json()["error_description"]
        assert_unauthorized_mcp(await mcp_post(http, second["access_token"]))
        after = await refresh(http, storage, second["refresh_token"])
        assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
    assert await list_grants(oauth_server, oauth_server.alice) == []


async def test_revoked_token_is_refused_on_mcp_and_the_connector_must_ask_again(oauth_server):
    storage = MemoryStorage()
    consent = oauth_server.consent()
    auth = connector(oauth_server.base_url, consent, storage=storage)
    async with oauth_mcp_client(oauth_server.base_url, auth) as client:
        await call(client, "add_task", title="Call the bank")
        old = storage.tokens
        async with httpx.AsyncClient(base_url=oauth_server.base_url) as http:
            revoked = await http.post(
                "/oauth/revoke", data={"token": old.refresh_token, **client_auth(storage)}
            )
            assert revoked.status_code == 200
            assert_unauthorized_mcp(await mcp_post(http, old.access_token))
            again = await refresh(http, storage, old.refresh_token)
            assert again.json()["error"] == "invalid_grant"

        # The connector sees a 401 (never a tool error), signs in again and carries on.
        listed = await call(client, "list_tasks")

    assert [t["title"] for t in listed["tasks"]] == ["Call the bank"]
    assert consent.asked == 2
    assert storage.tokens.access_token != old.access_token


async def test_expired_access_token_is_a_401_and_the_connector_refreshes(documents, sqlite_url):
    lifetime_seconds = 2
    async with running_oauth_server(
        sqlite_url, trust=documents.trust, oauth_access_token_minutes=lifetime_seconds / 60
    ) as server:
        storage = MemoryStorage()
        consent = server.consent()
        auth = connector(server.base_url, consent, storage=storage)
        async with oauth_mcp_client(server.base_url, auth) as client:
            await call(client, "add_task", title="Book flights")
            old = storage.tokens
            assert old.expires_in == lifetime_seconds
            await asyncio.sleep(lifetime_seconds + 0.5)

            async with httpx.AsyncClient(base_url=server.base_url) as http:
                expired = await mcp_post(http, old.access_token)
            assert_unauthorized_mcp(expired)

            listed = await call(client, "list_tasks")

        assert [t["title"] for t in listed["tasks"]] == ["Book flights"]
        assert storage.tokens.access_token != old.access_token
        assert consent.asked == 1, "the connector refreshed rather than asking the user again"
