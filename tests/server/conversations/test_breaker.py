"""Circuit breakers in front of the language model provider and AGENT_MCP_URL: after failures
in a row, chats fail at once with a clear error for a cool-down, then one trial closes or
reopens it; /health/ready and /metrics show the state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from server.app import create_app
from server.runtime import open_runtime
from testkit.fake_llm import Reply
from tests.conftest import make_account
from tests.server.conversations.conftest import chat_settings
from tests.utils.app import http_client
from tests.utils.chat import chat

DOWN = Reply(status=503)


async def ask(client, account, text: str) -> tuple[str, dict]:
    """One chat turn; its last event."""
    return (await chat(client, account.headers, text))[-1]


async def breakers(client: httpx.AsyncClient) -> dict:
    ready = await client.get("/health/ready")
    assert ready.status_code == 200  # an open breaker does not make the replica unready
    return ready.json()["circuit_breakers"]


async def test_a_failing_provider_opens_the_breaker_and_chats_fail_fast(sqlite_url, fake_llm):
    settings = chat_settings(
        sqlite_url, fake_llm, circuit_breaker_failures=2, circuit_breaker_cooldown_seconds=600
    )
    fake_llm.rule("", DOWN)  # every request fails
    async with open_runtime(settings) as runtime, http_client(create_app(runtime)) as client:
        alice = await make_account(runtime.services, "alice")
        failures = [await ask(client, alice, f"try {n}") for n in (1, 2)]
        asked = len(fake_llm.requests)

        fast = await ask(client, alice, "try 3")
        state = await breakers(client)
        metrics = (await client.get("/metrics")).text
        stored = await client.get("/api/conversations", headers=alice.headers)

    assert [name for name, _ in failures] == ["error", "error"]
    assert asked == 2 * 3  # each chat went through its retries (LLM_MAX_RETRIES=2)
    assert fast[0] == "error" and "not being asked again" in fast[1]["message"]
    assert len(fake_llm.requests) == asked  # the provider was not asked at all
    assert state["llm"]["state"] == "open"
    assert state["llm"]["consecutive_failures"] == 2 and state["llm"]["rejected"] == 1
    assert 'circuit_breaker_state{breaker="llm"} 2.0' in metrics
    assert 'circuit_breaker_rejected_total{breaker="llm"} 1.0' in metrics
    assert len(stored.json()["conversations"]) == 3  # every message was kept


async def test_after_the_cool_down_one_trial_closes_or_reopens_the_breaker(sqlite_url, fake_llm):
    settings = chat_settings(
        sqlite_url, fake_llm, circuit_breaker_failures=1, circuit_breaker_cooldown_seconds=0.3
    )
    async with open_runtime(settings) as runtime, http_client(create_app(runtime)) as client:
        alice = await make_account(runtime.services, "alice")
        fake_llm.rule("", DOWN)
        await ask(client, alice, "fails")
        opened = (await breakers(client))["llm"]["state"]

        await asyncio.sleep(0.4)  # the cool-down passes
        trial_failed = await ask(client, alice, "the trial fails")
        reopened = (await breakers(client))["llm"]["state"]

        await asyncio.sleep(0.4)
        fake_llm.reset()  # the provider is back
        trial = await ask(client, alice, "the trial succeeds")
        closed = await breakers(client)
        metrics = (await client.get("/metrics")).text

    assert opened == "open"
    assert trial_failed[0] == "error" and "503" in trial_failed[1]["message"]
    assert reopened == "open"
    assert trial[0] == "done"
    assert closed["llm"]["state"] == "closed" and closed["llm"]["consecutive_failures"] == 0
    assert 'circuit_breaker_state{breaker="llm"} 0.0' in metrics
    assert 'circuit_breaker_opened_total{breaker="llm"} 2.0' in metrics


async def test_a_provider_that_refuses_the_request_does_not_open_the_breaker(sqlite_url, fake_llm):
    # A 400 (say, a bad request body) is an answer: the provider is up.
    settings = chat_settings(sqlite_url, fake_llm, circuit_breaker_failures=1)
    fake_llm.rule("", Reply(status=400))
    async with open_runtime(settings) as runtime, http_client(create_app(runtime)) as client:
        alice = await make_account(runtime.services, "alice")
        answers = [await ask(client, alice, f"try {n}") for n in (1, 2)]
        state = await breakers(client)

    assert [name for name, _ in answers] == ["error", "error"]
    assert all("HTTP 400" in data["message"] for _, data in answers)
    assert state["llm"]["state"] == "closed"


@pytest.fixture
async def refusing_mcp() -> AsyncIterator[tuple[str, list[int]]]:
    """A port that accepts connections and closes them at once; counts them."""
    accepted: list[int] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/mcp", accepted


async def test_an_unreachable_tool_server_opens_its_breaker(sqlite_url, fake_llm, refusing_mcp):
    url, accepted = refusing_mcp
    settings = chat_settings(
        sqlite_url,
        fake_llm,
        agent_mcp_url=url,
        circuit_breaker_failures=2,
        circuit_breaker_cooldown_seconds=600,
    )
    async with open_runtime(settings) as runtime, http_client(create_app(runtime)) as client:
        alice = await make_account(runtime.services, "alice")
        failures = [await ask(client, alice, f"try {n}") for n in (1, 2)]
        tried = len(accepted)

        fast = await ask(client, alice, "try 3")
        state = await breakers(client)

    assert [name for name, _ in failures] == ["error", "error"]
    assert tried >= 2
    assert fast[0] == "error" and "not being tried again" in fast[1]["message"]
    assert len(accepted) == tried  # no connection was attempted
    assert state["remote_mcp"]["state"] == "open"
    assert state["llm"]["state"] == "closed"
    assert fake_llm.requests == []
