"""The history sent to the model: bounded by size, tool calls never split from results."""

from __future__ import annotations

import pytest

from server.config import Settings
from server.conversations.history import NO_RESULT, bound_history, to_model_messages
from server.conversations.models import Message
from tests.server.conversations.conftest import chat_settings
from tests.utils.chat import chat


def user(text: str) -> Message:
    return Message(conversation_id=1, role="user", content=text)


def assistant(text: str | None = None, *call_ids: str) -> Message:
    calls = [{"id": c, "name": "list_tasks", "arguments": "{}"} for c in call_ids] or None
    return Message(conversation_id=1, role="assistant", content=text, tool_calls=calls)


def tool(call_id: str, text: str = "{}") -> Message:
    return Message(
        conversation_id=1, role="tool", content=text, tool_call_id=call_id, name="list_tasks"
    )


def contents(messages: list[Message]) -> list[str | None]:
    return [m.content for m in messages]


def test_the_newest_messages_that_fit_are_kept():
    rows = [user("a" * 500), assistant("b" * 500), user("c" * 100), assistant("d" * 100)]

    kept = bound_history(rows, budget=400)

    assert contents(kept) == ["c" * 100, "d" * 100]


def test_a_tool_call_and_its_results_are_kept_or_dropped_together():
    rows = [
        user("old question"),
        assistant(None, "c1", "c2"),
        tool("c1", "x" * 300),
        tool("c2", "y" * 300),
        assistant("old answer"),
        user("new question"),
    ]

    small = bound_history(rows, budget=200)
    large = bound_history(rows, budget=2_000)

    assert contents(small) == ["new question"]
    assert large == rows


def test_the_history_starts_with_a_user_message():
    rows = [user("q" * 300), assistant(None, "c1"), tool("c1"), assistant("a"), user("next")]

    kept = bound_history(rows, budget=150)

    assert kept[0].role == "user"
    assert contents(kept) == ["next"]


def test_the_newest_message_is_kept_even_when_alone_it_is_too_big():
    assert contents(bound_history([user("a"), user("z" * 5_000)], budget=100)) == ["z" * 5_000]


def test_results_whose_call_was_cut_off_are_dropped():
    rows = [tool("c0"), user("hi"), assistant("hello")]

    assert contents(bound_history(rows, budget=1_000)) == ["hi", "hello"]


def test_a_call_left_without_a_result_gets_one_for_the_model():
    rows = [user("q"), assistant("looking", "c1", "c2"), tool("c2", "[]"), user("and?")]

    messages = to_model_messages(rows)

    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user"]
    assert messages[2] == {"role": "tool", "tool_call_id": "c2", "content": "[]"}
    assert messages[3] == {"role": "tool", "tool_call_id": "c1", "content": NO_RESULT}


@pytest.fixture
def settings(sqlite_url, fake_llm) -> Settings:
    return chat_settings(sqlite_url, fake_llm, agent_history_chars=2_000)


async def test_a_long_conversation_sends_only_what_fits(client, alice, fake_llm):
    conversation_id = None
    for letter in "abc":
        events = await chat(client, alice.headers, letter * 900, conversation_id)
        conversation_id = events[0][1]["conversation_id"]

    sent = fake_llm.last_request.messages
    assert [m["role"] for m in sent] == ["system", "user"]
    assert sent[1]["content"] == "c" * 900
    stored = await client.get(f"/api/conversations/{conversation_id}", headers=alice.headers)
    assert len(stored.json()["messages"]) == 6  # everything is still stored
