"""Any replica continues any conversation: everything is stored, nothing kept in memory."""

from __future__ import annotations

import httpx

from server.app import create_app
from server.services import build_services
from server.tasks.service import ListQuery, Status
from tests.conftest import make_account
from tests.server.conversations.conftest import chat_settings
from tests.utils.chat import chat, names
from tests.utils.fake_llm import Reply, ToolCall


async def test_a_conversation_continues_after_a_restart(database_url, fake_llm):
    settings = chat_settings(database_url, fake_llm)

    first = build_services(settings)
    await first.db.migrate()
    alice = await make_account(first, "alice", "Europe/Paris")
    app = create_app(settings, workers=False, services=first)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            fake_llm.script(
                Reply(tool_calls=[ToolCall("add_task", {"title": "Water the plants"}, id="c1")]),
                "Added it.",
            )
            events = await chat(client, alice.headers, "add: water the plants")
    conversation_id = events[0][1]["conversation_id"]
    task_id = events[2][1]["result"]["id"]

    # A new process (another replica) on the same database.
    second = build_services(settings)
    app = create_app(settings, workers=False, services=second)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            fake_llm.script(
                Reply(tool_calls=[ToolCall("complete_task", {"task_id": task_id}, id="c2")]),
                "Marked it done.",
            )
            events = await chat(
                client, alice.headers, "mark it done", conversation_id=conversation_id
            )
            stored = await client.get(
                f"/api/conversations/{conversation_id}", headers=alice.headers
            )
            listed = await client.get("/api/conversations", headers=alice.headers)
        done = await second.tasks.list_tasks(
            user=alice.user, query=ListQuery(status=Status.completed)
        )

    assert names(events)[-1] == "done"
    assert events[0][1] == {"conversation_id": conversation_id}
    assert [task.title for task in done.tasks] == ["Water the plants"]
    # The model saw the whole earlier exchange, tool call and result included.
    sent = fake_llm.requests[2].messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert sent[2]["tool_calls"][0]["id"] == "c1" and sent[3]["tool_call_id"] == "c1"
    assert sent[4]["content"] == "Added it." and sent[5]["content"] == "mark it done"
    messages = stored.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"] * 2
    assert [c["id"] for c in listed.json()["conversations"]] == [conversation_id]
