"""POST /api/chat end to end: scripted provider over HTTP, the real MCP tools, the database."""

from __future__ import annotations

from datetime import UTC, datetime

from server.app import create_app
from server.runtime import open_runtime
from server.tasks.models import Status, TaskCreate, TaskQuery
from testkit.fake_llm import Reply, ToolCall
from tests.conftest import make_account
from tests.server.conversations.conftest import chat_settings
from tests.utils.app import http_client
from tests.utils.chat import chat, names, text


async def titles(services, account, status=Status.all) -> list[str]:
    page = await services.tasks.list_tasks(user=account.user, query=TaskQuery(status=status))
    return sorted(task.title for task in page.tasks)


async def test_a_tool_call_really_adds_the_task_and_events_arrive_in_order(
    client, services, alice, fake_llm
):
    fake_llm.script(
        Reply(
            tool_calls=[ToolCall("add_task", {"title": "Buy milk", "priority": "high"})],
            chunk_size=3,
        ),
        Reply(text="Added **Buy milk** with high priority.", chunk_size=5),
    )

    events = await chat(client, alice.headers, "add buy milk, it's urgent")

    assert names(events) == [
        "conversation",
        "tool_call",
        "tool_result",
        *["delta"] * 8,
        "done",
    ]
    call, result = events[1][1], events[2][1]
    assert call["name"] == "add_task"
    assert call["arguments"] == {"title": "Buy milk", "priority": "high"}
    assert result["id"] == call["id"] and result["ok"] is True, result
    assert result["result"]["title"] == "Buy milk"
    assert text(events) == "Added **Buy milk** with high priority."
    assert await titles(services, alice) == ["Buy milk"]

    conversation_id = events[0][1]["conversation_id"]
    stored = await client.get(f"/api/conversations/{conversation_id}", headers=alice.headers)
    messages = stored.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1]["tool_calls"] == [call]
    assert messages[2]["tool_call_id"] == call["id"] and messages[2]["is_error"] is False
    assert messages[3]["content"] == "Added **Buy milk** with high priority."
    assert events[-1][1] == {"message_id": messages[3]["id"]}


async def test_the_system_prompt_gives_the_time_and_the_users_timezone(client, alice, fake_llm):
    await chat(client, alice.headers, "what time is it?")

    prompt = fake_llm.last_request.system_prompt
    assert "Europe/Paris" in prompt
    assert "alice" in prompt
    assert str(datetime.now(UTC).year) in prompt
    assert "list_tasks" in prompt  # how to use the tools
    assert "add_task" in fake_llm.last_request.tool_names


async def test_two_parallel_tool_calls_add_two_tasks(client, services, alice, fake_llm):
    fake_llm.script(
        Reply(
            tool_calls=[
                ToolCall("add_task", {"title": "Call mum"}),
                ToolCall("add_task", {"title": "Pay rent", "due": "tomorrow 9am"}),
            ],
            interleave=True,
            chunk_size=4,
        ),
        "Both added.",
    )

    events = await chat(client, alice.headers, "call mum and pay rent tomorrow")

    assert names(events)[:5] == [
        "conversation",
        "tool_call",
        "tool_call",
        "tool_result",
        "tool_result",
    ]
    assert all(data["ok"] for name, data in events if name == "tool_result")
    assert await titles(services, alice) == ["Call mum", "Pay rent"]
    follow_up = fake_llm.last_request.messages
    assert [m["role"] for m in follow_up[-3:]] == ["assistant", "tool", "tool"]


async def test_broken_arguments_and_unknown_tools_come_back_as_tool_errors(
    client, services, alice, fake_llm
):
    fake_llm.script(
        Reply(
            tool_calls=[
                ToolCall("add_task", '{"title": "Half'),
                ToolCall("make_coffee", {"strength": "double"}),
            ]
        ),
        "Sorry, I could not do that.",
    )

    events = await chat(client, alice.headers, "add a task and make coffee")

    results = {data["name"]: data for name, data in events if name == "tool_result"}
    assert results["add_task"]["ok"] is False
    assert "not valid JSON" in results["add_task"]["error"]
    assert results["make_coffee"]["ok"] is False
    assert "unknown tool 'make_coffee'" in results["make_coffee"]["error"]
    assert names(events)[-1] == "done"
    assert await titles(services, alice) == []
    tool_calls = [data for name, data in events if name == "tool_call"]
    assert tool_calls[0]["arguments"] == '{"title": "Half'  # shown as sent


async def test_a_rate_limited_provider_is_retried(client, alice, fake_llm):
    fake_llm.script(Reply(status=429), "Here I am.")

    events = await chat(client, alice.headers, "hello")

    assert names(events) == ["conversation", "delta", "delta", "done"]
    assert text(events) == "Here I am."
    assert len(fake_llm.requests) == 2


async def test_a_failing_provider_ends_with_an_error_and_keeps_the_message(client, alice, fake_llm):
    fake_llm.script(*[Reply(status=500)] * 3)

    events = await chat(client, alice.headers, "remember this")

    assert names(events) == ["conversation", "error"]
    assert "HTTP 500" in events[1][1]["message"]
    assert len(fake_llm.requests) == 3
    conversation_id = events[0][1]["conversation_id"]
    stored = await client.get(f"/api/conversations/{conversation_id}", headers=alice.headers)
    assert [(m["role"], m["content"]) for m in stored.json()["messages"]] == [
        ("user", "remember this")
    ]


async def test_alices_chat_cannot_touch_bobs_tasks(client, services, alice, bob, fake_llm):
    bobs = await services.tasks.create_task(user=bob.user, data=TaskCreate(title="Bob's secret"))
    fake_llm.script(
        Reply(
            tool_calls=[
                ToolCall("get_task", {"task_id": bobs.id}),
                ToolCall("complete_task", {"task_id": bobs.id}),
                ToolCall("delete_task", {"task_id": bobs.id}),
                ToolCall("update_task", {"task_id": bobs.id, "title": "pwned"}),
                ToolCall("list_tasks", {"status": "all"}),
            ]
        ),
        "Nothing found.",
    )

    events = await chat(client, alice.headers, f"complete task {bobs.id}")

    results = {data["name"]: data for name, data in events if name == "tool_result"}
    for tool in ("get_task", "complete_task", "delete_task", "update_task"):
        assert results[tool]["ok"] is False
        assert f"task {bobs.id} not found" in results[tool]["error"]
    assert results["list_tasks"]["result"]["tasks"] == []
    still = await services.tasks.get_task(user=bob.user, task_id=bobs.id)
    assert still.title == "Bob's secret" and not still.completed and still.deleted_at is None
    for tool in fake_llm.last_request.body["tools"]:
        assert "user" not in str(tool["function"]["parameters"].get("properties", {}).keys())


async def test_another_users_conversation_is_not_found(client, alice, bob, fake_llm):
    events = await chat(client, bob.headers, "bob's private chat")
    bobs_conversation = events[0][1]["conversation_id"]

    read = await client.get(f"/api/conversations/{bobs_conversation}", headers=alice.headers)
    cont = await client.post(
        "/api/chat",
        json={"message": "hi", "conversation_id": bobs_conversation},
        headers=alice.headers,
    )
    listed = await client.get("/api/conversations", headers=alice.headers)

    for response in (read, cont):
        assert response.status_code == 404
        assert response.json()["error"]["message"] == f"conversation {bobs_conversation} not found"
    assert listed.json()["conversations"] == []


async def test_conversations_are_listed_most_recent_first(client, alice, fake_llm):
    first = (await chat(client, alice.headers, "first chat"))[0][1]["conversation_id"]
    second = (await chat(client, alice.headers, "second chat"))[0][1]["conversation_id"]
    await chat(client, alice.headers, "back to the first", conversation_id=first)

    listed = (await client.get("/api/conversations", headers=alice.headers)).json()
    page = (await client.get("/api/conversations?limit=1", headers=alice.headers)).json()
    rest = (
        await client.get(
            f"/api/conversations?limit=1&cursor={page['next_cursor']}", headers=alice.headers
        )
    ).json()

    assert [c["id"] for c in listed["conversations"]] == [first, second]
    assert listed["conversations"][0]["title"] == "first chat"
    assert set(listed["conversations"][0]) == {"id", "title", "created_at", "updated_at"}
    assert [c["id"] for c in page["conversations"] + rest["conversations"]] == [first, second]
    assert rest["next_cursor"] is None


async def test_bad_chat_requests_are_plain_http_errors(client, alice):
    empty = await client.post("/api/chat", json={"message": "  "}, headers=alice.headers)
    anonymous = await client.post("/api/chat", json={"message": "hi"})
    missing = await client.post(
        "/api/chat", json={"message": "hi", "conversation_id": 999}, headers=alice.headers
    )

    assert empty.status_code == 422
    assert empty.json()["error"]["details"] == {"field": "message", "rule": "must not be empty"}
    assert anonymous.status_code == 401
    assert missing.status_code == 404


async def test_a_stalled_provider_times_out_with_an_error_and_keeps_the_partial_text(
    sqlite_url, fake_llm
):
    settings = chat_settings(sqlite_url, fake_llm, llm_timeout_seconds=0.5, llm_max_retries=0)
    fake_llm.script(Reply(text="Thinking about it", hang=True))
    async with open_runtime(settings) as runtime, http_client(create_app(runtime)) as client:
        alice = await make_account(runtime.services, "alice")
        events = await chat(client, alice.headers, "think")
        conversation_id = events[0][1]["conversation_id"]
        stored = await client.get(f"/api/conversations/{conversation_id}", headers=alice.headers)

    assert names(events) == ["conversation", "delta", "delta", "delta", "error"]
    assert "did not answer in time" in events[-1][1]["message"]
    assert [(m["role"], m["content"]) for m in stored.json()["messages"]] == [
        ("user", "think"),
        ("assistant", "Thinking about it"),
    ]
