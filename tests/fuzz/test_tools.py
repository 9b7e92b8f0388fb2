"""Every MCP tool (read from the server's tool list, so a new one is fuzzed too), called
through a real MCP session over streamable HTTP with hostile arguments: never a crash or
a bare error, every error names an argument (or says what was not found), and nothing of
another user's is ever in a result (nor changed: see the target's teardown)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp_types import CallToolResult, TextContent, Tool

from tests.fuzz.conftest import PROFILE, SECRET, Target
from tests.fuzz.strategies import ODD_NUMBERS, objects
from tests.utils.mcp import http_client, rpc_answer
from tests.utils.routes import tools_at_collection

TOOLS = tools_at_collection()


@st.composite
def arguments(draw, tool: Tool, target: Target) -> dict[str, Any]:
    schema = tool.input_schema
    value = draw(objects(schema, schema.get("$defs", {}), cursor=target.cursor))
    ids = target.fuzzer_ids["task"] + target.victim_ids["task"]
    if "task_id" in schema.get("properties", {}) and draw(st.booleans()):
        value["task_id"] = draw(st.sampled_from(ids + ODD_NUMBERS))
    if "notification_ids" in schema.get("properties", {}) and draw(st.booleans()):
        notes = target.fuzzer_ids["notification"] + target.victim_ids["notification"]
        value["notification_ids"] = draw(st.lists(st.sampled_from(notes), max_size=3))
    return value


def check(tool: Tool, arguments: dict, result: CallToolResult) -> None:
    text = "\n".join(b.text for b in result.content if isinstance(b, TextContent))
    shown = text + json.dumps(result.structured_content, default=str)
    context = f"{tool.name}({arguments!r:.500}) -> {text[:500]}"
    assert SECRET not in shown, context
    if not result.is_error:
        return
    assert text and "Traceback" not in text, context
    assert text.strip() != f"Error executing tool {tool.name}", context  # a crash, hidden
    names = [*tool.input_schema.get("properties", {}), "arguments", "not found"]
    assert any(name in text for name in names), context


async def raw_call(target: Target, tool: Tool, args: dict[str, Any]) -> CallToolResult | None:
    """The call as JSON-RPC over HTTP, for what the SDK's client cannot encode (a lone
    surrogate: JSON can carry it escaped, UTF-8 cannot). None when the server refuses it
    as a request it cannot parse."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
    body["params"] = {"name": tool.name, "arguments": args}
    headers = {
        "Authorization": f"Bearer {target.fuzzer.token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    response = await target.client.post(
        f"{target.base_url}/mcp", content=json.dumps(body), headers=headers, timeout=30
    )
    assert response.status_code < 500, response.text
    answer = rpc_answer(response)
    if "error" in answer:
        assert answer["error"]["code"] in (-32700, -32600, -32602), answer  # not an internal one
        return None
    return CallToolResult.model_validate(answer["result"])


@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool.name)
async def test_no_tool_crashes_or_leaks_whatever_it_is_called_with(target: Target, tool: Tool):
    async with http_client(target.base_url, target.fuzzer.token) as client:

        async def call(args: dict[str, Any]) -> CallToolResult | None:
            try:
                json.dumps(args, ensure_ascii=False).encode()
            except UnicodeEncodeError:  # it would break the SDK client's session
                return await raw_call(target, tool, args)
            return await client.call_tool(tool.name, args)

        @PROFILE
        @given(args=arguments(tool, target))
        def fuzz(args: dict[str, Any]) -> None:
            result = target.run(lambda: call(args))
            if result is not None:
                check(tool, args, result)

        await asyncio.to_thread(fuzz)


def test_every_tool_is_fuzzed():
    assert {"add_task", "list_tasks", "mark_notifications_read"} <= {t.name for t in TOOLS}
