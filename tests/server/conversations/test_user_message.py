"""The user's message is stored before the stream ends, however the answer ends."""

from __future__ import annotations

import asyncio

import pytest

from server.conversations.service import ConversationService
from testkit.fake_llm import Reply
from tests.conftest import make_settings
from tests.utils.chat import chat, names, text


@pytest.fixture
def slow_store(monkeypatch):
    """Storing a user's message takes a moment, as on a busy database."""
    save = ConversationService.save_user_message

    async def slow_save(self, **kwargs):
        await asyncio.sleep(0.3)
        return await save(self, **kwargs)

    monkeypatch.setattr(ConversationService, "save_user_message", slow_save)


async def stored_messages(client, account, conversation_id) -> list[tuple[str, str]]:
    response = await client.get(f"/api/conversations/{conversation_id}", headers=account.headers)
    return [(m["role"], m["content"]) for m in response.json()["messages"]]


async def test_a_provider_failing_at_once_still_stores_the_continued_message(
    client, alice, fake_llm, slow_store
):
    fake_llm.script("Hello.")
    conversation_id = (await chat(client, alice.headers, "hi"))[0][1]["conversation_id"]
    fake_llm.script(Reply(status=400))

    events = await chat(client, alice.headers, "still there?", conversation_id=conversation_id)

    assert names(events) == ["conversation", "error"]
    assert await stored_messages(client, alice, conversation_id) == [
        ("user", "hi"),
        ("assistant", "Hello."),
        ("user", "still there?"),
    ]


async def test_a_new_conversation_is_announced_first_even_when_storing_is_slow(
    client, alice, fake_llm, slow_store
):
    fake_llm.script("Hello there, how can I help?")

    events = await chat(client, alice.headers, "hi")

    assert names(events)[0] == "conversation"
    assert names(events)[-1] == "done"
    assert text(events) == "Hello there, how can I help?"
    conversation_id = events[0][1]["conversation_id"]
    assert await stored_messages(client, alice, conversation_id) == [
        ("user", "hi"),
        ("assistant", "Hello there, how can I help?"),
    ]


async def test_a_new_conversation_that_cannot_be_stored_ends_with_that_error(
    client, alice, fake_llm, monkeypatch
):
    async def broken_save(self, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ConversationService, "save_user_message", broken_save)
    fake_llm.script("Hello.")

    events = await chat(client, alice.headers, "hi")

    assert events == [("error", {"message": "Could not store your message; try again shortly."})]
    listing = await client.get("/api/conversations", headers=alice.headers)
    assert listing.json()["conversations"] == []


class TestWithoutProvider:
    @pytest.fixture
    def settings(self, sqlite_url):
        return make_settings(database_url=sqlite_url)

    async def test_a_continued_conversation_stores_the_message_before_the_error(
        self, client, alice, slow_store
    ):
        conversation_id = (await chat(client, alice.headers, "one"))[0][1]["conversation_id"]

        events = await chat(client, alice.headers, "two", conversation_id=conversation_id)

        assert names(events) == ["conversation", "error"]
        assert "OPENAI_API_KEY" in events[1][1]["message"]
        assert await stored_messages(client, alice, conversation_id) == [
            ("user", "one"),
            ("user", "two"),
        ]

    async def test_a_message_that_cannot_be_stored_ends_with_that_error(
        self, client, alice, monkeypatch
    ):
        conversation_id = (await chat(client, alice.headers, "one"))[0][1]["conversation_id"]

        async def broken_save(self, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(ConversationService, "save_user_message", broken_save)
        events = await chat(client, alice.headers, "two", conversation_id=conversation_id)

        assert names(events) == ["conversation", "error"]
        assert events[1][1]["message"] == "Could not store your message; try again shortly."
        assert await stored_messages(client, alice, conversation_id) == [("user", "one")]
