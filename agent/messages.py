"""Chat Completions messages, built one way for the live loop and for stored history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.events import ToolCall

# A tool result longer than this is cut for the model (the stored result stays whole).
TOOL_CONTENT_MAX = 16_000


def system_message(content: str) -> dict[str, Any]:
    return {"role": "system", "content": content}


def user_message(content: str) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant_message(content: str | None, tool_calls: Sequence[ToolCall] = ()) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in tool_calls
        ]
    elif not content:
        message["content"] = ""
    return message


def tool_message(call_id: str, content: str) -> dict[str, Any]:
    if len(content) > TOOL_CONTENT_MAX:
        cut = len(content) - TOOL_CONTENT_MAX
        content = f"{content[:TOOL_CONTENT_MAX]}\n[... {cut} more characters cut]"
    return {"role": "tool", "tool_call_id": call_id, "content": content}
