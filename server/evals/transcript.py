"""What one scenario's chat turns did: the tool calls, model requests, tokens and time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ToolCallRecord:
    name: str
    arguments: Any
    ok: bool | None = None  # None: no result came back
    error: str | None = None
    id: str | None = None


@dataclass(slots=True)
class TurnRecord:
    """One user turn through the chat; `rounds` counts requests to the model."""

    say: str
    reply: str = ""  # the text of the answer after its last tool result
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    rounds: int = 0
    prompt_tokens: int | None = None  # None: the provider reported no usage
    completion_tokens: int | None = None
    first_prompt_tokens: int | None = None  # the turn's first request, as the provider counted
    seconds: float = 0.0
    error: str | None = None  # the chat's `error` event, if it ended with one
    last_event: str = ""

    def add_usage(self, prompt: int, completion: int) -> None:
        if self.first_prompt_tokens is None:
            self.first_prompt_tokens = prompt
        self.prompt_tokens = (self.prompt_tokens or 0) + prompt
        self.completion_tokens = (self.completion_tokens or 0) + completion


def follow(record: TurnRecord, name: str, data: dict[str, Any]) -> None:
    """Add one chat event (server/conversations/chat.py) to `record`. Each run of `tool_call`
    events is one model request that asked for tools; `done` ends the one that answered."""
    if name == "delta":
        record.reply += data.get("text", "")
    elif name == "tool_call":
        if record.last_event != "tool_call":
            record.rounds += 1
        call = ToolCallRecord(data.get("name", ""), data.get("arguments"), id=data.get("id"))
        record.tool_calls.append(call)
    elif name == "tool_result":
        record.reply = ""  # text before a tool call is not the answer
        for call in record.tool_calls:
            if call.id == data.get("id") and call.ok is None:
                call.ok = bool(data.get("ok"))
                call.error = data.get("error")
    elif name == "usage":
        record.add_usage(data["prompt_tokens"], data["completion_tokens"])
    elif name == "done":
        record.rounds += 1
    elif name == "error":
        record.error = data.get("message", "the chat failed")
    if name != "usage":
        record.last_event = name
