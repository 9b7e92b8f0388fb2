"""`GET /api/events`: the user's task changes and new notifications, live, as SSE."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from server.errors import Unauthorized
from server.events.live import CLOSED, LiveHub
from server.http.deps import LiveDep, ServicesDep, StreamUser, stream_token
from server.sse import HEADERS, MEDIA_TYPE, comment, sse

router = APIRouter(prefix="/api", tags=["events"])


@router.get("/events", response_class=StreamingResponse)
async def events(
    request: Request, services: ServicesDep, live: LiveDep, user: StreamUser
) -> StreamingResponse:
    """`event: task` `{type, task}`, `event: project` `{type, project}`, `event: comment`
    `{type, comment}` and `event: notification` `{notification}`; SSE comments keep the
    connection alive. The stream ends once its token is revoked or expires."""
    token = stream_token(request)
    return StreamingResponse(
        stream(live, user.id, lambda: services.users.authenticate(token)),
        media_type=MEDIA_TYPE,
        headers=HEADERS,
    )


async def stream(
    hub: LiveHub, user_id: int, authenticate: Callable[[], Awaitable[object]]
) -> AsyncIterator[bytes]:
    """The user's events until the hub closes the stream or `authenticate` raises
    Unauthorized, which is checked at every keep-alive (and as often on a busy stream)."""
    with hub.subscribe(user_id) as queue:
        yield b"retry: 3000\n" + comment("connected")
        check_at = time.monotonic() + hub.keepalive_seconds
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=hub.keepalive_seconds)
            except TimeoutError:
                event = None
            if event is CLOSED:
                return
            if event is None or time.monotonic() >= check_at:
                try:
                    await authenticate()
                except Unauthorized:
                    return
                check_at = time.monotonic() + hub.keepalive_seconds
            if event is None:
                yield comment("keep-alive")
            else:
                yield sse(event.name, event.data, id=event.id)
