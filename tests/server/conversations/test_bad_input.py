"""Client input to the chat and conversation routes is a 4xx, never a 500, on every engine."""

from __future__ import annotations

import base64

import pytest

from server.config import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(database_url) -> Settings:
    return make_settings(database_url=database_url)


def forged_cursor(last_id: object, when: str = "2024-01-01T00:00:00+00:00") -> str:
    return base64.urlsafe_b64encode(f"{when}|{last_id}".encode()).decode().rstrip("=")


def assert_error(response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    if field is not None:
        assert response.json()["error"]["details"]["field"] == field


@pytest.mark.parametrize("conversation_id", [99999999999999999999, 2**63, 2**31, 0, -1])
async def test_an_out_of_range_conversation_id_is_not_found(client, alice, conversation_id):
    read = await client.get(f"/api/conversations/{conversation_id}", headers=alice.headers)
    cont = await client.post(
        "/api/chat",
        json={"message": "hi", "conversation_id": conversation_id},
        headers=alice.headers,
    )

    for response in (read, cont):
        assert_error(response, 404)
        assert response.json()["error"]["message"] == f"conversation {conversation_id} not found"


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(forged_cursor(99999999999999999999), id="huge-id"),
        pytest.param(forged_cursor(2**31), id="int4-overflow-id"),
        pytest.param(forged_cursor(0), id="zero-id"),
        pytest.param(forged_cursor(-3), id="negative-id"),
        pytest.param(forged_cursor(5, when="0001-01-01T00:00:00+01:00"), id="before-year-1"),
        pytest.param(forged_cursor(5, when="9999-12-31T23:59:59-01:00"), id="after-year-9999"),
    ],
)
async def test_a_forged_cursor_is_a_validation_error(client, alice, cursor):
    response = await client.get(
        "/api/conversations", params={"cursor": cursor}, headers=alice.headers
    )

    assert_error(response, 422, "cursor")


async def test_a_nul_in_a_chat_message_is_a_validation_error(client, alice):
    response = await client.post("/api/chat", json={"message": "hi\x00"}, headers=alice.headers)
    listed = await client.get("/api/conversations", headers=alice.headers)

    assert_error(response, 422, "message")
    assert response.json()["error"]["details"]["rule"] == "must not contain NUL characters"
    assert listed.json()["conversations"] == []
