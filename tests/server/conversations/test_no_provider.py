"""Without a provider the chat explains how to configure one; everything else works."""

from __future__ import annotations

import pytest

from server.config import Settings
from tests.conftest import make_settings
from tests.utils.chat import chat, names


@pytest.fixture
def settings(sqlite_url) -> Settings:
    return make_settings(database_url=sqlite_url)


async def test_the_chat_says_how_to_configure_a_provider(client, alice):
    events = await chat(client, alice.headers, "hello?")

    assert names(events) == ["conversation", "error"]
    message = events[1][1]["message"]
    for variable in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_MODEL"):
        assert variable in message
    conversation_id = events[0][1]["conversation_id"]
    stored = await client.get(f"/api/conversations/{conversation_id}", headers=alice.headers)
    assert [m["content"] for m in stored.json()["messages"]] == ["hello?"]


async def test_tasks_keep_working_without_a_provider(client, alice):
    created = await client.post("/api/tasks", json={"title": "Still works"}, headers=alice.headers)
    listed = await client.get("/api/tasks", headers=alice.headers)

    assert created.status_code == 201
    assert [t["title"] for t in listed.json()["tasks"]] == ["Still works"]
