"""The agent loop against the scripted provider over real HTTP and a toy MCP server in memory."""

from __future__ import annotations

import asyncio
import json

from mcp import Client

from agent.events import AssistantTurn, Failed, TextDelta, ToolResult
from agent.loop import Agent, request_body
from agent.mcp_client import Toolbox, open_toolbox
from agent.messages import system_message, user_message
from testkit.fake_llm import Reply, ToolCall

MESSAGES = [system_message("You are a test."), user_message("hello")]


async def run(agent: Agent, tools: Toolbox, messages=MESSAGES) -> list:
    return [event async for event in agent.run(messages, tools)]


def text_of(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_text_arrives_in_deltas_and_ends_with_the_whole_message(agent, toy_mcp, fake_llm):
    fake_llm.script(Reply(text="Hello there, nice to meet you.", chunk_size=3))
    async with open_toolbox(Client(toy_mcp)) as tools:
        events = await run(agent, tools)

    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 10
    assert text_of(events) == "Hello there, nice to meet you."
    assert events[-1] == AssistantTurn(content="Hello there, nice to meet you.")
    sent = fake_llm.last_request
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["authorization"].startswith("Bearer ")
    assert sent.body["stream"] is True
    assert sent.body["model"] == agent.model
    assert sorted(sent.tool_names) == ["add", "fail", "rendezvous", "slow"]
    assert sent.body["tools"] == tools.definitions
    assert sent.messages == MESSAGES


def test_a_request_without_tools_has_no_tools_field():
    body = json.loads(request_body("m", MESSAGES, "[]"))

    assert body == {"model": "m", "stream": True, "messages": MESSAGES}


async def test_arguments_split_over_many_chunks_reach_the_tool_whole(agent, toy, toy_mcp, fake_llm):
    fake_llm.script(
        Reply(tool_calls=[ToolCall("add", {"a": 12345, "b": 54321}, id="call_a")], chunk_size=1),
        "The total is 66666.",
    )
    async with open_toolbox(Client(toy_mcp)) as tools:
        events = await run(agent, tools)

    assert toy.calls == [("add", {"a": 12345, "b": 54321})]
    turn, result = events[0], events[1]
    assert isinstance(turn, AssistantTurn) and turn.tool_calls[0].name == "add"
    assert isinstance(result, ToolResult)
    assert result.outcome.ok and result.outcome.result == {"total": 66666}
    # The result went back to the model after the call, as a tool message.
    follow_up = fake_llm.last_request.messages
    assert follow_up[-2]["tool_calls"][0]["function"] == {
        "name": "add",
        "arguments": '{"a": 12345, "b": 54321}',
    }
    assert follow_up[-1] == {
        "role": "tool",
        "tool_call_id": "call_a",
        "content": '{"total": 66666}',
    }
    assert events[-1] == AssistantTurn(content="The total is 66666.")


async def test_parallel_tool_calls_run_at_the_same_time(agent, toy, toy_mcp, fake_llm):
    # Each rendezvous call returns only while the other one is running too.
    fake_llm.script(
        Reply(
            tool_calls=[
                ToolCall("rendezvous", {"name": "x"}),
                ToolCall("rendezvous", {"name": "y"}),
            ],
            interleave=True,
            chunk_size=2,
        ),
        "Both met.",
    )
    async with open_toolbox(Client(toy_mcp)) as tools:
        events = await run(agent, tools)

    results = [e for e in events if isinstance(e, ToolResult)]
    assert sorted(r.outcome.result["result"] for r in results) == ["met x", "met y"]
    assert all(r.outcome.ok for r in results)
    tool_messages = [m for m in fake_llm.last_request.messages if m["role"] == "tool"]
    assert len(tool_messages) == 2


async def test_invalid_json_arguments_go_back_to_the_model_as_an_error(
    agent, toy, toy_mcp, fake_llm
):
    fake_llm.script(
        Reply(tool_calls=[ToolCall("add", '{"a": 1, "b": ')]),
        Reply(tool_calls=[ToolCall("add", {"a": 1, "b": 2})]),
        "3.",
    )
    async with open_toolbox(Client(toy_mcp)) as tools:
        events = await run(agent, tools)

    first, second = [e for e in events if isinstance(e, ToolResult)]
    assert not first.outcome.ok
    assert "not valid JSON" in first.outcome.error
    assert second.outcome.ok
    assert toy.calls == [("add", {"a": 1, "b": 2})]  # the broken call never reached the tool
    assert "not valid JSON" in fake_llm.requests[1].messages[-1]["content"]


async def test_an_unknown_tool_is_reported_to_the_model(agent, toy_mcp, fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCall("launch_rocket", {})]), "I cannot do that.")
    async with open_toolbox(Client(toy_mcp)) as tools:
        events = await run(agent, tools)

    (result,) = [e for e in events if isinstance(e, ToolResult)]
    assert not result.outcome.ok
    assert "unknown tool 'launch_rocket'" in result.outcome.error
    assert "add" in result.outcome.error  # the model learns which tools exist
    assert text_of(events) == "I cannot do that."


async def test_a_tool_error_keeps_its_message(agent, toy_mcp, fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCall("fail", {"reason": "nope"})]), "It failed.")
    async with open_toolbox(Client(toy_mcp)) as tools:
        events = await run(agent, tools)

    (result,) = [e for e in events if isinstance(e, ToolResult)]
    assert not result.outcome.ok
    assert "reason: nope" in result.outcome.error


async def test_a_rate_limit_is_retried_then_the_reply_streams(agent, toy_mcp, fake_llm):
    fake_llm.script(Reply(status=429), "Fine now.")
    async with open_toolbox(Client(toy_mcp)) as tools:
        events = await run(agent, tools)

    assert text_of(events) == "Fine now."
    assert not any(isinstance(e, Failed) for e in events)
    assert len(fake_llm.requests) == 2


async def test_a_provider_that_always_fails_ends_with_one_error(agent, toy_mcp, fake_llm):
    fake_llm.script(*[Reply(status=500)] * 3)
    async with open_toolbox(Client(toy_mcp)) as tools:
        events = await run(agent, tools)

    assert len(events) == 1 and isinstance(events[0], Failed)
    assert "HTTP 500" in events[0].message and "3 attempts" in events[0].message
    assert len(fake_llm.requests) == 3  # the first try and two retries


async def test_tool_rounds_are_bounded_with_an_honest_message(agent, toy, toy_mcp, fake_llm):
    fake_llm.script(*[Reply(tool_calls=[ToolCall("add", {"a": 1, "b": 1})])] * 10)
    async with open_toolbox(Client(toy_mcp)) as tools:
        events = await run(agent, tools)

    assert len(toy.calls) == 3  # max_tool_rounds
    assert len(fake_llm.requests) == 4
    last = events[-1]
    assert isinstance(last, AssistantTurn) and not last.tool_calls
    assert "stopped after 3 rounds" in last.content
    assert text_of(events) == last.content


async def test_cancelling_the_run_cancels_the_running_tool(agent, toy, toy_mcp, fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCall("slow", {})]))
    async with open_toolbox(Client(toy_mcp)) as tools:
        running = asyncio.create_task(run(agent, tools))
        await toy.slow_started.wait()
        running.cancel()
        await asyncio.wait([running])
        await asyncio.wait_for(toy.slow_cancelled.wait(), timeout=10)
    assert running.cancelled()


async def test_tool_definitions_carry_the_mcp_schema(toy_mcp):
    async with open_toolbox(Client(toy_mcp)) as tools:
        add = next(d for d in tools.definitions if d["function"]["name"] == "add")
        assert tools.instructions == "Toy tools for tests."
    assert add["type"] == "function"
    assert add["function"]["description"] == "Add two numbers."
    parameters = add["function"]["parameters"]
    assert parameters["required"] == ["a", "b"]
    assert parameters["properties"]["a"]["description"] == "first number"
    # Without the labels pydantic makes of the names ("A", "addArguments"): size, not sense.
    assert "title" not in parameters and "title" not in parameters["properties"]["a"]
    json.dumps(tools.definitions)  # plain JSON, ready for the provider
