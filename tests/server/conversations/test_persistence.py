"""Any replica continues any conversation: everything is stored, nothing kept in memory."""

from __future__ import annotations

from server.app import create_app
from server.runtime import open_runtime
from server.tasks.models import Status, TaskQuery
from testkit.fake_llm import Reply, ToolCall
from tests.conftest import make_account
from tests.server.conversations.conftest import chat_settings
from tests.utils.app import http_client
from tests.utils.chat import chat, names


async def test_a_conversation_continues_after_a_restart(database_url, fake_llm):
    settings = chat_settings(database_url, fake_llm)

    async with open_runtime(settings) as first, http_client(create_app(first)) as client:
        alice = await make_account(first.services, "alice", "Europe/Paris")
        fake_llm.script(
            Reply(tool_calls=[ToolCall("add_task", {"title": "Water the plants"}, id="c1")]),
            "Added it.",
        )
        events = await chat(client, alice.headers, "add: water the plants")
    conversation_id = events[0][1]["conversation_id"]
    task_id = events[2][1]["result"]["id"]

    # A new process (another replica) on the same database.
    async with open_runtime(settings) as second, http_client(create_app(second)) as client:
        fake_llm.script(
            Reply(tool_calls=[ToolCall("complete_task", {"task_id": task_id}, id="c2")]),
            "Marked it done.",
        )
        events = await chat(client, alice.headers, "mark it done", conversation_id=conversation_id)
        stored = await client.get(f"/api/conversations/{conversation_id}", headers=alice.headers)
        listed = await client.get("/api/conversations", headers=alice.headers)
        done = await second.services.tasks.list_tasks(
            user=alice.user, query=TaskQuery(status=Status.completed)
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
