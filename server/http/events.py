"""`GET /api/events`: the user's task changes and new notifications, live, as SSE.

Each event carries its id; a client that reconnects with `Last-Event-ID` (EventSource does
by itself) first gets every event it missed, then the live ones, none twice. A new stream
starts with an `id:` line of its own (no event), so even a client that saw no event yet
can resume. An id the server does not know gets a `reset` event: reload, then carry on.
The events are read from the outbox (server/events/replay.py); the bus only wakes the
stream (server/events/live.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from server.errors import Unauthorized
from server.events.live import LiveHub, to_live_event
from server.events.replay import PAGE_SIZE, START, LiveLog, Position
from server.http.deps import LiveDep, ServicesDep, StreamUser, stream_token
from server.sse import HEADERS, MEDIA_TYPE, comment, sse

router = APIRouter(prefix="/api", tags=["events"])

# After a wake-up, the user's events may be sent but not yet numbered: look again after
# these delays while some are waiting, for up to SETTLE_SECONDS.
RECHECK_SECONDS = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
SETTLE_SECONDS = 10.0
RESET = {"reason": "the events since your last one are no longer known: reload"}


@router.get("/events", response_class=StreamingResponse)
async def events(
    request: Request, services: ServicesDep, live: LiveDep, user: StreamUser
) -> StreamingResponse:
    """`event: task` `{type, task}`, `event: project` `{type, project}`, `event: comment`
    `{type, comment}` and `event: notification` `{notification}`, each with an `id:`;
    `event: reset` when `Last-Event-ID` is unknown; comments keep the connection alive. The
    stream ends once its token is revoked or expires."""
    token = stream_token(request)
    return StreamingResponse(
        stream(
            live,
            services.live_log,
            user.id,
            request.headers.get("last-event-id"),
            lambda: services.users.authenticate(token),
        ),
        media_type=MEDIA_TYPE,
        headers=HEADERS,
    )


async def stream(
    hub: LiveHub,
    log: LiveLog,
    user_id: int,
    last_event_id: str | None,
    authenticate: Callable[[], Awaitable[object]],
) -> AsyncIterator[bytes]:
    """The user's events from `last_event_id` on (see the module docstring), until
    `authenticate` raises Unauthorized, which is checked at every keep-alive (and as often
    on a busy stream)."""
    with hub.subscribe(user_id) as woken:
        position, opening = await _start(log, user_id, last_event_id)
        yield b"retry: 3000\n" + opening + comment("connected")
        settle_until = time.monotonic() + SETTLE_SECONDS  # it may have missed a wake-up
        rechecks = 0
        check_at = time.monotonic() + hub.keepalive_seconds
        while True:
            found, waiting = await log.after(user_id, position)
            for logged in found:
                position = logged.position
                event = to_live_event(logged.envelope)
                if event is not None:
                    yield sse(event.name, event.data, id=event.id)
            if found:
                rechecks = 0
            resting = False
            if len(found) == PAGE_SIZE:
                timeout = 0.0  # more to catch up on
            elif waiting and time.monotonic() < settle_until:
                timeout = RECHECK_SECONDS[min(rechecks, len(RECHECK_SECONDS) - 1)]
                rechecks += 1
            else:
                timeout, resting = hub.keepalive_seconds, True
            if await _woken(woken, timeout):
                woken.clear()
                settle_until = time.monotonic() + SETTLE_SECONDS
                rechecks = 0
                resting = False
            if resting or time.monotonic() >= check_at:
                try:
                    await authenticate()
                except Unauthorized:
                    return
                check_at = time.monotonic() + hub.keepalive_seconds
                if resting:
                    yield comment("keep-alive")


async def _start(log: LiveLog, user_id: int, last_event_id: str | None) -> tuple[Position, bytes]:
    """Where the stream starts, and what it opens with (the position's id, a reset)."""
    if last_event_id is not None:
        position = await log.position_of(user_id, last_event_id.strip())
        if position is not None:
            return position, b""
    latest = await log.latest(user_id)
    # An id with no event moves the client's last event id (an empty one clears it).
    opening = f"id: {latest.event_id if latest else ''}\n".encode()
    if last_event_id is not None:
        opening += sse("reset", RESET)
    else:
        opening += b"\n"
    return (latest.position if latest else START), opening


async def _woken(woken: asyncio.Event, within: float) -> bool:
    if woken.is_set():
        return True
    try:
        await asyncio.wait_for(woken.wait(), timeout=within)
    except TimeoutError:
        return False
    return True
