"""Throttles: the limiter itself on a clock the test moves; refused credentials per client
address (REST, the event stream and /mcp alike) and chat turns per user answer 429 with
Retry-After, in the JSON error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from server.app import create_app
from server.errors import Throttled
from server.http.throttle import Throttle
from server.runtime import open_runtime
from tests.conftest import make_account
from tests.server.conversations.conftest import chat_settings
from tests.utils.app import running
from tests.utils.factories import assert_error

WRONG = {"Authorization": "Bearer tda_guessed-token"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_past_its_limit_waits_for_the_next_window():
    clock = Clock()
    throttle = Throttle(limit=2, window=60, clock=clock)
    throttle.check("a", "requests")
    throttle.check("a", "requests")
    clock.now += 20

    with pytest.raises(Throttled) as refused:
        throttle.check("a", "requests")
    throttle.check("b", "requests")  # other keys count on their own
    clock.now += 40
    throttle.check("a", "requests")  # a new window

    assert refused.value.retry_after == 40
    assert refused.value.status == 429


def test_memory_is_bounded_by_forgetting_the_least_recent_keys():
    clock = Clock()
    throttle = Throttle(limit=1, window=60, max_keys=3, clock=clock)
    for key in ("a", "b", "c", "d"):
        throttle.check(key, "requests")

    throttle.check("a", "requests")  # forgotten, so counted afresh
    with pytest.raises(Throttled):
        throttle.check("d", "requests")


def test_a_limit_of_zero_never_limits():
    throttle = Throttle(limit=0, window=60)

    for _ in range(1000):
        throttle.check("a", "requests")
    assert len(throttle) == 0


@asynccontextmanager
async def app_on(settings) -> AsyncIterator[tuple]:
    """The app, and a client factory for requests from a given address."""
    async with open_runtime(settings) as runtime, running(create_app(runtime)) as served:

        def client_from(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=served, client=(address, 50000))
            return httpx.AsyncClient(transport=transport, base_url="http://testserver")

        yield runtime.services, client_from


@pytest.fixture
def throttled_settings(sqlite_url, fake_llm):
    return chat_settings(sqlite_url, fake_llm, auth_failures_per_minute=3, chat_turns_per_minute=2)


async def test_an_address_with_too_many_refused_credentials_gets_429(throttled_settings):
    async with app_on(throttled_settings) as (services, client_from):
        alice = await make_account(services, "alice")
        async with client_from("203.0.113.7") as attacker, client_from("198.51.100.1") as other:
            refused = [await attacker.get("/api/tasks", headers=WRONG) for _ in range(3)]
            throttled = await attacker.get("/api/tasks", headers=WRONG)
            # Once throttled, even a good token from there waits: guessing learns nothing.
            good_token = await attacker.get("/api/tasks", headers=alice.headers)
            on_mcp = await attacker.post("/mcp", json={}, headers=WRONG)
            on_events = await attacker.get("/api/events?access_token=tda_guessed")
            without_credentials = await attacker.get("/health/live")
            elsewhere = await other.get("/api/tasks", headers=alice.headers)

    assert [r.status_code for r in refused] == [401, 401, 401]
    for response in (throttled, good_token, on_mcp, on_events):
        assert_error(response, 429)
        assert response.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(response.headers["retry-after"]) <= 60
    assert without_credentials.status_code == 200
    assert elsewhere.status_code == 200


async def test_refused_credentials_on_mcp_count_too(throttled_settings):
    async with app_on(throttled_settings) as (_, client_from):
        async with client_from("203.0.113.8") as attacker:
            refused = [await attacker.post("/mcp", json={}, headers=WRONG) for _ in range(3)]
            throttled = await attacker.get("/api/me", headers=WRONG)

    assert [r.status_code for r in refused] == [401, 401, 401]
    assert_error(throttled, 429)


async def test_good_credentials_are_never_counted(throttled_settings):
    async with app_on(throttled_settings) as (services, client_from):
        alice = await make_account(services, "alice")
        async with client_from("203.0.113.9") as client:
            answers = [await client.get("/api/me", headers=alice.headers) for _ in range(10)]

    assert {r.status_code for r in answers} == {200}


async def test_a_user_over_the_chat_turn_limit_gets_429_and_nothing_is_stored(
    throttled_settings,
):
    async with app_on(throttled_settings) as (services, client_from):
        alice = await make_account(services, "alice")
        bob = await make_account(services, "bob")
        async with client_from("192.0.2.1") as client:

            async def say(account, text):
                return await client.post(
                    "/api/chat", json={"message": text}, headers=account.headers
                )

            answered = [await say(alice, f"message {n}") for n in range(2)]
            throttled = await say(alice, "one too many")
            bobs = await say(bob, "hello")
            stored = await client.get("/api/conversations", headers=alice.headers)

    assert [r.status_code for r in answered] == [200, 200]
    assert_error(throttled, 429)
    assert int(throttled.headers["retry-after"]) >= 1
    assert "CHAT_TURNS_PER_MINUTE" in throttled.json()["error"]["message"]
    assert bobs.status_code == 200
    assert len(stored.json()["conversations"]) == 2
