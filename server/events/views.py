"""`GET /api/events`: the user's task changes and new notifications, live, as SSE."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from server.deps import ServicesDep, StreamUser
from server.events.live import CLOSED, LiveEvent, LiveHub

router = APIRouter(prefix="/api", tags=["events"])


@router.get("/events", response_class=StreamingResponse)
async def events(services: ServicesDep, user: StreamUser) -> StreamingResponse:
    """`event: task` `{type, task}` and `event: notification` `{notification}`; comments
    keep the connection alive."""
    return StreamingResponse(
        stream(services.live, user.id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def stream(hub: LiveHub, user_id: int) -> AsyncIterator[str]:
    with hub.subscribe(user_id) as queue:
        yield "retry: 3000\n: connected\n\n"
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=hub.keepalive_seconds)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if event is CLOSED:
                return
            yield format_event(event)


def format_event(event: LiveEvent) -> str:
    data = json.dumps(event.data, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n"
