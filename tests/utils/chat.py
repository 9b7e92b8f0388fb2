"""Helpers for chat tests: post to /api/chat and read the SSE events back."""

from __future__ import annotations

import json
from typing import Any

import httpx

Event = tuple[str, dict[str, Any]]


def parse_sse(text: str) -> list[Event]:
    """`event: NAME` / `data: JSON` blocks, in order."""
    events: list[Event] = []
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


async def chat(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    message: str,
    conversation_id: int | None = None,
) -> list[Event]:
    """Send one chat message; returns its events (the response must be a 200 stream)."""
    response = await client.post(
        "/api/chat",
        json={"message": message, "conversation_id": conversation_id},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


def names(events: list[Event]) -> list[str]:
    return [name for name, _ in events]


def text(events: list[Event]) -> str:
    return "".join(data["text"] for name, data in events if name == "delta")
