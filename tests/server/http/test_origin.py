"""`/mcp` and the `Origin` header: a browser page from elsewhere (DNS rebinding) is refused;
the server's own origin, localhost, MCP_ALLOWED_ORIGINS and clients that send no Origin
are served."""

from __future__ import annotations

import pytest

from tests.utils.factories import assert_error, stored_task_count
from tests.utils.mcp import rpc_answer

SHARED_API_SETTINGS = {"mcp_allowed_origins": "https://claude.ai, https://chatgpt.com:8443"}


def add_task(title: str) -> dict:
    params = {"name": "add_task", "arguments": {"title": title}}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


@pytest.fixture(scope="module")
async def browser_user(shared_api):
    account = await shared_api.account("browser-user")
    headers = account.headers | {"Accept": "application/json, text/event-stream"}
    return account, headers


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param(None, id="no origin"),
        pytest.param("http://testserver", id="same origin"),
        pytest.param("http://localhost:6274", id="localhost"),
        pytest.param("http://127.0.0.1:3000", id="loopback"),
        pytest.param("http://[::1]:8080", id="loopback v6"),
        pytest.param("https://claude.ai", id="allowed by setting"),
        pytest.param("https://chatgpt.com:8443", id="allowed with its port"),
    ],
)
async def test_an_allowed_or_absent_origin_is_served(shared_api, browser_user, origin):
    account, headers = browser_user
    headers = headers | ({"Origin": origin} if origin else {})

    response = await shared_api.client.post("/mcp", json=add_task("Served"), headers=headers)

    assert response.status_code == 200, response.text
    assert rpc_answer(response)["result"]["isError"] is False


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("https://evil.example", id="another site"),
        pytest.param("http://testserver.evil.example", id="lookalike host"),
        pytest.param("http://testserver:8080", id="same host other port"),
        pytest.param("https://chatgpt.com", id="allowed host other port"),
        pytest.param("null", id="null origin"),
        pytest.param("file://", id="file page"),
        pytest.param("https://claude.ai/path", id="not an origin"),
    ],
)
async def test_a_foreign_origin_is_refused_and_nothing_runs(shared_api, browser_user, origin):
    account, headers = browser_user
    before = await stored_task_count(shared_api.services, account.user)

    response = await shared_api.client.post(
        "/mcp", json=add_task("Rebound"), headers=headers | {"Origin": origin}
    )

    assert_error(response, 403, "origin")
    assert await stored_task_count(shared_api.services, account.user) == before


async def test_the_rest_api_is_not_origin_checked(shared_api, browser_user):
    account, _ = browser_user

    response = await shared_api.client.get(
        "/api/tasks", headers=account.headers | {"Origin": "https://evil.example"}
    )

    assert response.status_code == 200
