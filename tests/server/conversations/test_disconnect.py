"""A client that goes away cancels the model call; what was produced is kept (real HTTP)."""

from __future__ import annotations

import asyncio
import json

import httpx

from mcp_tools.connectors import EmbeddedTools
from server.app import create_app
from server.conversations.history import NO_RESULT
from server.conversations.service import ConversationService
from testkit.fake_llm import Reply, ToolCall
from testkit.servers import serve_app
from tests.utils.chat import chat
from tests.utils.toy_mcp import Toy, toy_server


async def leave_at(event: str, client, account, message: str, *, then=None) -> int:
    """Chat, read the stream up to its first `event`, await `then()`, and leave (the stream
    is closed, as a closed tab does); the conversation id."""
    async with client.stream(
        "POST", "/api/chat", json={"message": message}, headers=account.headers
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:") and "conversation_id" in line:
                conversation_id = json.loads(line[5:])["conversation_id"]
            if line == f"event: {event}":
                if then is not None:
                    await then()
                return conversation_id
    raise AssertionError(f"the stream ended before any {event} event")


async def wait(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), timeout=10)


async def eventually(condition, attempts: int = 500) -> None:
    """Wait for `condition()` to hold (a wait for work to finish, not a timing check)."""
    for _ in range(attempts):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


async def test_leaving_mid_stream_cancels_the_model_call_and_keeps_the_partial_text(
    runtime, settings, services, alice, fake_llm
):
    words = "Let me think about your week very carefully"
    fake_llm.script(Reply(text=words, chunk_size=5, hang=True))
    app = create_app(runtime)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        # The user closes the tab at the first text.
        conversation_id = await leave_at("delta", client, alice, "plan my week")

        async def kept() -> bool:
            detail = await services.conversations.get_conversation(
                user=alice.user, conversation_id=conversation_id
            )
            return len(detail.messages) == 2

        await eventually(kept)
        assert fake_llm.cancelled == 1 and fake_llm.completed == 0

        partial = (
            await services.conversations.get_conversation(
                user=alice.user, conversation_id=conversation_id
            )
        ).messages[1]
        assert partial.role == "assistant"
        assert partial.content and words.startswith(partial.content)

        # The conversation goes on, with the partial answer in its history.
        fake_llm.script("Sorry, here is the plan.")
        events = await chat(client, alice.headers, "go on", conversation_id=conversation_id)
    assert events[-1][0] == "done"
    sent = fake_llm.last_request.messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == partial.content


async def test_leaving_during_a_tool_call_cancels_it_and_the_conversation_goes_on(
    runtime, settings, services, alice, fake_llm
):
    toy = Toy()
    fake_llm.script(Reply(tool_calls=[ToolCall("slow", {}, id="call_slow")]))
    app = create_app(runtime, tools=EmbeddedTools(toy_server(toy)))
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        conversation_id = await leave_at(
            "tool_call", client, alice, "do the slow thing", then=toy.slow_started.wait
        )

        await asyncio.wait_for(toy.slow_cancelled.wait(), timeout=10)

        async def kept() -> bool:
            detail = await services.conversations.get_conversation(
                user=alice.user, conversation_id=conversation_id
            )
            return len(detail.messages) == 3

        await eventually(kept)
        fake_llm.script("Let me try again later.")
        events = await chat(client, alice.headers, "well?", conversation_id=conversation_id)

    assert events[-1][0] == "done"
    sent = fake_llm.last_request.messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "user"]
    assert sent[3] == {"role": "tool", "tool_call_id": "call_slow", "content": NO_RESULT}


async def test_leaving_while_the_answer_is_being_stored_still_stores_it(
    runtime, settings, services, alice, fake_llm, monkeypatch
):
    stored = ConversationService.add_message
    storing = asyncio.Event()

    async def slow_add(self, **kwargs):  # a busy database: the write waits its turn
        storing.set()
        await asyncio.sleep(0.3)
        return await stored(self, **kwargs)

    monkeypatch.setattr(ConversationService, "add_message", slow_add)
    fake_llm.script("Your week looks calm.")
    app = create_app(runtime)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        # The user closes the tab while the answer is being stored.
        conversation_id = await leave_at(
            "delta", client, alice, "how is my week", then=lambda: wait(storing)
        )

        async def kept() -> bool:
            detail = await services.conversations.get_conversation(
                user=alice.user, conversation_id=conversation_id
            )
            return [(m.role, m.content) for m in detail.messages] == [
                ("user", "how is my week"),
                ("assistant", "Your week looks calm."),
            ]

        await eventually(kept)
