"""The history rules: which stored messages the model sees (bounded by a character budget)
and how they become Chat Completions messages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agent.events import ToolCall
from agent.messages import assistant_message, tool_message, user_message

NO_RESULT = "no result: the request ended before this tool call finished"


class HistoryMessage(Protocol):
    """What the model's history needs of a stored message (a `Message`, or a row of it)."""

    @property
    def role(self) -> str: ...
    @property
    def content(self) -> str | None: ...
    @property
    def tool_calls(self) -> list[dict[str, Any]] | None: ...
    @property
    def tool_call_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Asking:
    """The message being answered, as `bound_history` sees it (not stored yet)."""

    content: str
    role: str = "user"
    tool_calls: None = None
    tool_call_id: None = None


def _size(message: HistoryMessage) -> int:
    calls = message.tool_calls or ()
    return 16 + len(message.content or "") + sum(len(json.dumps(c)) for c in calls)


def bound_history(rows: Sequence[HistoryMessage], budget: int) -> list[HistoryMessage]:
    """The newest messages that fit in `budget` characters, never splitting a tool call from
    its results, starting at a user message; the newest group is always kept."""
    groups: list[list[HistoryMessage]] = []
    for row in rows:
        if row.role == "tool":
            if groups and groups[-1][0].tool_calls:
                groups[-1].append(row)
            continue  # its call was cut off by the row limit: drop it
        groups.append([row])
    kept: list[list[HistoryMessage]] = []
    used = 0
    for group in reversed(groups):
        size = sum(_size(m) for m in group)
        if kept and used + size > budget:
            break
        kept.append(group)
        used += size
    kept.reverse()
    while len(kept) > 1 and kept[0][0].role != "user":
        kept.pop(0)
    return [message for group in kept for message in group]


def to_model_messages(history: Sequence[HistoryMessage]) -> list[dict[str, Any]]:
    """Stored messages as Chat Completions messages; a call without a stored result (the
    request ended first) gets one, since providers reject a call with no answer."""
    messages: list[dict[str, Any]] = []
    open_calls: list[str] = []

    def close_open_calls() -> None:
        messages.extend(tool_message(call_id, NO_RESULT) for call_id in open_calls)
        open_calls.clear()

    for row in history:
        if row.role == "tool":
            if row.tool_call_id in open_calls:
                open_calls.remove(row.tool_call_id)
                messages.append(tool_message(row.tool_call_id, row.content or ""))
            continue
        close_open_calls()
        if row.role == "user":
            messages.append(user_message(row.content or ""))
        else:
            calls = [ToolCall(**call) for call in row.tool_calls or ()]
            messages.append(assistant_message(row.content, calls))
            open_calls.extend(call.id for call in calls)
    close_open_calls()
    return messages
