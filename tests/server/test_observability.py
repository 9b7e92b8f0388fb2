"""Request ids: a client's X-Request-ID is repeated (in the response and in every log line of
the request) only when it is short and plain; anything else is replaced by a fresh id."""

from __future__ import annotations

import io
import logging
import re

import httpx
import pytest

from server.app import create_app
from server.observability import log_handler
from server.runtime import open_runtime
from testkit.servers import free_port
from tests.server.conversations.conftest import chat_settings
from tests.utils.app import http_client

FRESH = re.compile(r"[0-9a-f]{16}")
FORGED = [
    pytest.param("x] ERROR server.db [forged] the database is gone", id="brackets and spaces"),
    pytest.param("ok\nERROR server.db [forged] the database is gone", id="newline"),
    pytest.param("ok\r\nSet-Cookie: forged=1", id="header injection"),
    pytest.param("forged" + "x" * 60, id="too long"),
    pytest.param("forgéd", id="not ascii"),
]


@pytest.fixture
async def logged_chat(sqlite_url, fake_llm):
    """An app whose chat logs a warning during the request (its tool server is unreachable),
    and the log lines written meanwhile, formatted as `serve` writes them."""
    url = f"http://127.0.0.1:{free_port()}/mcp"
    settings = chat_settings(sqlite_url, fake_llm, agent_mcp_url=url)
    stream = io.StringIO()
    handler = log_handler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        async with open_runtime(settings) as runtime, http_client(create_app(runtime)) as client:
            services = runtime.services
            await services.users.create_user(name="alice")
            token = await services.users.create_token(name="alice")
            yield client, {"Authorization": f"Bearer {token}"}, stream
    finally:
        root.removeHandler(handler)


async def chat_with_request_id(client: httpx.AsyncClient, headers: dict, request_id: str):
    raw = [(b"x-request-id", request_id.encode())]
    request = client.build_request("POST", "/api/chat", json={"message": "hi"}, headers=headers)
    # Sent as raw bytes: the ASGI app sees exactly what a proxy might pass on.
    request.headers = httpx.Headers(list(request.headers.raw) + raw)
    return await client.send(request)


@pytest.mark.parametrize("forged", FORGED)
async def test_a_forged_request_id_reaches_no_log_line_and_no_response(logged_chat, forged):
    client, headers, stream = logged_chat

    response = await chat_with_request_id(client, headers, forged)

    assert response.status_code == 200
    rid = response.headers["x-request-id"]
    assert FRESH.fullmatch(rid), rid
    lines = stream.getvalue().splitlines()
    assert any("unreachable" in line for line in lines)  # the request did log
    assert not any("forged" in line for line in lines)
    assert all(f"[{rid}]" in line for line in lines if "unreachable" in line)
    assert "forged" not in response.text and "set-cookie" not in response.headers


async def test_a_plain_request_id_is_kept_in_the_response_and_the_logs(logged_chat):
    client, headers, stream = logged_chat

    response = await chat_with_request_id(client, headers, "req-42.a:b_c")

    assert response.headers["x-request-id"] == "req-42.a:b_c"
    assert any("[req-42.a:b_c]" in line for line in stream.getvalue().splitlines())
