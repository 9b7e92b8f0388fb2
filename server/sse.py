"""Server-sent events: the one encoder and the response headers every stream uses
(`POST /api/chat`, `GET /api/events`)."""

from __future__ import annotations

import json
from typing import Any

MEDIA_TYPE = "text/event-stream"
# No caching, and no buffering by a proxy in front (nginx): each event leaves at once.
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: dict[str, Any], *, id: str | None = None) -> bytes:
    """One event: `id:` (when given), `event:` and `data:` as compact JSON."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    head = f"id: {id}\n" if id else ""
    return f"{head}event: {event}\ndata: {payload}\n\n".encode()


def comment(text: str) -> bytes:
    """A comment line: clients ignore it; it keeps a quiet connection alive."""
    return f": {text}\n\n".encode()
