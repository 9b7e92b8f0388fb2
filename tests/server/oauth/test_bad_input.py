"""Refused requests: each gets the error its RFC names and leaves nothing stored. Errors
about the client or its redirect URI are shown as a page, never sent to that URI."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
from urllib.parse import urlencode

import httpx
import pytest
from starlette.responses import JSONResponse, Response

from tests.server.oauth.helpers import assert_unauthorized_mcp, mcp_post
from tests.utils.oauth import CALLBACK, expire_code, oauth_rows, redirect_params

VERIFIER = secrets.token_urlsafe(48)
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode()[:43]


@pytest.fixture
async def http(shared_oauth_server):
    async with httpx.AsyncClient(base_url=shared_oauth_server.base_url) as client:
        yield client


async def register(http: httpx.AsyncClient, **metadata) -> dict:
    body = {"client_name": "Bad input app", "redirect_uris": [CALLBACK], **metadata}
    response = await http.post("/oauth/register", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def authorize_params(server, client_id: str, **changes) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "state": "state-42",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "resource": server.services.oauth.resource,
    }
    params.update(changes)
    return {key: value for key, value in params.items() if value is not None}


async def approved_code(http, server, client_id: str) -> str:
    query = urlencode(authorize_params(server, client_id))
    answer = await http.post(
        "/api/oauth/consent",
        json={"request": query, "approve": True},
        headers=server.alice.headers,
    )
    assert answer.status_code == 200, answer.text
    return redirect_params(answer.json()["redirect_to"])["code"]


def exchange_form(client: dict, code: str, verifier: str = VERIFIER) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
    }


def assert_error_page(response: httpx.Response, error: str, words: str) -> None:
    """Shown to the person in the browser, with no redirect anywhere."""
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert f"<code>{error}</code>" in response.text
    assert words in html.unescape(response.text)


def assert_redirected_error(response: httpx.Response, server, error: str) -> dict[str, str]:
    """Sent back to the client's registered redirect URI, with state and iss."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    params = redirect_params(location)
    assert params["error"] == error
    assert params["state"] == "state-42"
    assert params["iss"] == server.services.oauth.issuer
    return params


async def test_unknown_client_is_shown_an_error_page(http, shared_oauth_server):
    before = await oauth_rows(shared_oauth_server.services)

    response = await http.get(
        "/oauth/authorize", params=authorize_params(shared_oauth_server, "no-such-client")
    )

    assert_error_page(response, "invalid_client", "unknown client_id")
    assert await oauth_rows(shared_oauth_server.services) == before


async def test_unknown_client_cannot_get_tokens(http, shared_oauth_server):
    response = await http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": "tdoc_x",
            "client_id": "no-such-client",
            "code_verifier": VERIFIER,
            "redirect_uri": CALLBACK,
        },
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        pytest.param("http://127.0.0.1:9/elsewhere", id="another path"),
        pytest.param("https://attacker.example/callback", id="another host"),
        pytest.param("javascript:alert(1)", id="javascript"),
    ],
)
async def test_unregistered_redirect_uri_is_shown_an_error_page_not_redirected_to(
    http, shared_oauth_server, redirect_uri
):
    client = await register(http)
    before = await oauth_rows(shared_oauth_server.services)

    response = await http.get(
        "/oauth/authorize",
        params=authorize_params(
            shared_oauth_server, client["client_id"], redirect_uri=redirect_uri
        ),
    )

    assert_error_page(response, "invalid_request", "is not registered for this client")
    assert await oauth_rows(shared_oauth_server.services) == before


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        pytest.param({"code_challenge": None}, "code_challenge is required", id="no challenge"),
        pytest.param(
            {"code_challenge_method": "plain", "code_challenge": VERIFIER[:43]},
            "must be S256",
            id="plain",
        ),
        pytest.param({"code_challenge_method": None}, "must be S256", id="no method means plain"),
        pytest.param({"code_challenge": "too-short"}, "43 base64url", id="not an S256 digest"),
    ],
)
async def test_missing_or_plain_pkce_challenge_is_refused_to_the_client(
    http, shared_oauth_server, changes, words
):
    client = await register(http)
    before = await oauth_rows(shared_oauth_server.services)

    response = await http.get(
        "/oauth/authorize",
        params=authorize_params(shared_oauth_server, client["client_id"], **changes),
    )

    params = assert_redirected_error(response, shared_oauth_server, "invalid_request")
    assert words in params["error_description"]
    assert await oauth_rows(shared_oauth_server.services) == before


async def test_token_for_another_resource_is_refused(http, shared_oauth_server):
    client = await register(http)
    before = await oauth_rows(shared_oauth_server.services)

    response = await http.get(
        "/oauth/authorize",
        params=authorize_params(
            shared_oauth_server, client["client_id"], resource="https://other.example/mcp"
        ),
    )

    assert_redirected_error(response, shared_oauth_server, "invalid_target")
    assert await oauth_rows(shared_oauth_server.services) == before


async def test_consent_for_an_unknown_client_is_refused_and_issues_no_code(
    http, shared_oauth_server
):
    before = await oauth_rows(shared_oauth_server.services)
    query = urlencode(authorize_params(shared_oauth_server, "no-such-client"))

    response = await http.post(
        "/api/oauth/consent",
        json={"request": query, "approve": True},
        headers=shared_oauth_server.alice.headers,
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_client"
    assert await oauth_rows(shared_oauth_server.services) == before


async def test_reused_code_is_refused_and_revokes_the_tokens_it_gave(http, shared_oauth_server):
    client = await register(http)
    code = await approved_code(http, shared_oauth_server, client["client_id"])
    first = await http.post("/oauth/token", data=exchange_form(client, code))
    assert first.status_code == 200, first.text
    before = await oauth_rows(shared_oauth_server.services)

    again = await http.post("/oauth/token", data=exchange_form(client, code))

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert "already used" in again.json()["error_description"]
    assert_unauthorized_mcp(await mcp_post(http, first.json()["access_token"]))
    assert await oauth_rows(shared_oauth_server.services) == before


async def test_wrong_code_verifier_is_refused(http, shared_oauth_server):
    client = await register(http)
    code = await approved_code(http, shared_oauth_server, client["client_id"])
    before = await oauth_rows(shared_oauth_server.services)

    response = await http.post(
        "/oauth/token", data=exchange_form(client, code, verifier=secrets.token_urlsafe(48))
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "incorrect code_verifier",
    }
    assert await oauth_rows(shared_oauth_server.services) == before


async def test_expired_code_is_refused(http, shared_oauth_server):
    client = await register(http)
    code = await approved_code(http, shared_oauth_server, client["client_id"])
    await expire_code(shared_oauth_server.services, code)
    before = await oauth_rows(shared_oauth_server.services)

    response = await http.post("/oauth/token", data=exchange_form(client, code))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "expired" in response.json()["error_description"]
    assert await oauth_rows(shared_oauth_server.services) == before


@pytest.mark.parametrize(
    ("redirect_uri", "words"),
    [
        pytest.param("javascript:alert(1)", "must be https", id="javascript"),
        pytest.param("http://app.example/callback", "loopback", id="http on a public host"),
        pytest.param("https://app.example/cb#frag", "fragment", id="fragment"),
    ],
)
async def test_registration_with_an_unusable_redirect_uri_is_refused(
    http, shared_oauth_server, redirect_uri, words
):
    before = await oauth_rows(shared_oauth_server.services)

    response = await http.post(
        "/oauth/register", json={"client_name": "x", "redirect_uris": [redirect_uri]}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    assert words in response.json()["error_description"]
    assert await oauth_rows(shared_oauth_server.services) == before


def document(url: str, **changes) -> dict:
    body = {"client_id": url, "client_name": "Doc app", "redirect_uris": [CALLBACK]}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


@pytest.mark.parametrize(
    ("response", "words"),
    [
        pytest.param(
            lambda url: JSONResponse(document(url, padding="x" * 6000)),
            "larger than 5120 bytes",
            id="oversized",
        ),
        pytest.param(
            lambda url: JSONResponse(document("https://elsewhere.example/app.json")),
            "client_id must be the document's own URL",
            id="client_id is another URL",
        ),
        pytest.param(
            lambda url: JSONResponse(document(url, redirect_uris=None)),
            "redirect_uris is missing",
            id="no redirect_uris",
        ),
        pytest.param(
            lambda url: JSONResponse(document(url, client_secret="shh")),
            "must not contain a client_secret",
            id="shared secret",
        ),
        pytest.param(
            lambda url: JSONResponse(document(url, redirect_uris=["javascript:alert(1)"])),
            "must be https",
            id="javascript redirect",
        ),
        pytest.param(
            lambda url: Response("{not json", media_type="application/json"),
            "is not valid JSON",
            id="not JSON",
        ),
        pytest.param(
            lambda url: Response("<html></html>", media_type="text/html"),
            "not JSON",
            id="HTML",
        ),
        pytest.param(
            lambda url: Response(status_code=302, headers={"location": url + "?next"}),
            "answered HTTP 302",
            id="redirect not followed",
        ),
    ],
)
async def test_bad_metadata_document_is_refused(
    http, shared_oauth_server, documents, response, words
):
    name = f"bad-{secrets.token_hex(4)}.json"
    url = documents.url(name)
    documents.documents[name] = response(url)
    before = await oauth_rows(shared_oauth_server.services)

    page = await http.get("/oauth/authorize", params=authorize_params(shared_oauth_server, url))

    assert_error_page(page, "invalid_client", words)
    assert await oauth_rows(shared_oauth_server.services) == before


async def test_metadata_document_url_that_is_not_https_is_refused(http, shared_oauth_server):
    url = "http://127.0.0.1:9/client.json"
    before = await oauth_rows(shared_oauth_server.services)

    page = await http.get("/oauth/authorize", params=authorize_params(shared_oauth_server, url))

    assert_error_page(page, "invalid_client", "must use https")
    assert await oauth_rows(shared_oauth_server.services) == before
