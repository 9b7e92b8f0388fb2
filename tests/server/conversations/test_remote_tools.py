"""AGENT_MCP_URL: the chat uses another todo-agent's MCP endpoint, as the chatting user."""

from __future__ import annotations

import httpx

from server.app import create_app
from server.conversations.chat import TOOLS_UNREACHABLE
from server.runtime import open_runtime
from testkit.fake_llm import Reply, ToolCall
from testkit.servers import free_port, serve_app
from tests.server.conversations.conftest import chat_settings
from tests.utils.chat import chat, names


async def test_the_chat_acts_through_the_remote_mcp_server_as_the_user(
    runtime, settings, alice, bob, fake_llm
):
    # The MCP tier: this runtime's app, over real HTTP; the chat tier: a process of its own
    # (its own runtime and metrics) on the same database, with AGENT_MCP_URL set.
    async with serve_app(create_app(runtime)) as mcp_url:
        remote = chat_settings(settings.database_url, fake_llm, agent_mcp_url=f"{mcp_url}/mcp")
        async with open_runtime(remote) as chat_tier, serve_app(create_app(chat_tier)) as url:
            fake_llm.script(
                Reply(tool_calls=[ToolCall("add_task", {"title": "Book the dentist"})]),
                "Added it.",
            )
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                events = await chat(client, alice.headers, "remind me to book the dentist")
                alices = (await client.get("/api/tasks", headers=alice.headers)).json()
                bobs = (await client.get("/api/tasks", headers=bob.headers)).json()
            async with httpx.AsyncClient(base_url=mcp_url) as client:
                served = (await client.get("/metrics")).text

    assert names(events)[0] == "conversation" and names(events)[-1] == "done"
    result = next(data for name, data in events if name == "tool_result")
    assert result["ok"] is True
    assert [task["title"] for task in alices["tasks"]] == ["Book the dentist"]
    assert bobs["tasks"] == []
    assert 'route="/mcp",status="200"' in served  # the tools were called over there
    # The remote server's tools and instructions reached the model.
    assert "add_task" in fake_llm.requests[0].tool_names


async def test_an_unreachable_mcp_server_ends_with_an_error_and_keeps_the_message(
    settings, alice, fake_llm
):
    remote = chat_settings(
        settings.database_url, fake_llm, agent_mcp_url=f"http://127.0.0.1:{free_port()}/mcp"
    )
    async with open_runtime(remote) as chat_tier, serve_app(create_app(chat_tier)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            events = await chat(client, alice.headers, "what is due today?")
            conversation_id = events[0][1]["conversation_id"]
            stored = await client.get(
                f"/api/conversations/{conversation_id}", headers=alice.headers
            )

    assert events[-1] == ("error", {"message": TOOLS_UNREACHABLE})
    assert [m["content"] for m in stored.json()["messages"]] == ["what is due today?"]
    assert fake_llm.requests == []  # the model was not asked without its tools
