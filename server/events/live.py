"""Live pushes: a per-user, in-process fan-out of task, project, comment and notification
events.

`LiveHub` hands each open `GET /api/events` stream a bounded queue; a stream that falls
too far behind is closed (the browser's EventSource reconnects and the page reloads its
data) rather than letting one slow client hold memory. `live_feed` fills the hub from the
bus with a broadcast subscription, so every replica sees the events of every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from server.events.bus import Envelope, EventBus
from server.events.outbox import Topics

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveEvent:
    id: str
    name: str
    data: dict[str, Any]


# Put in a queue to end its stream.
CLOSED = LiveEvent(id="", name="", data={})


class LiveHub:
    """Fans events out to the open streams of each user, in this process."""

    def __init__(self, *, queue_size: int = 256, keepalive_seconds: float = 15.0) -> None:
        self.queue_size = queue_size
        self.keepalive_seconds = keepalive_seconds
        self._streams: dict[int, set[asyncio.Queue[LiveEvent]]] = {}

    @contextlib.contextmanager
    def subscribe(self, user_id: int) -> Iterator[asyncio.Queue[LiveEvent]]:
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=self.queue_size)
        self._streams.setdefault(user_id, set()).add(queue)
        try:
            yield queue
        finally:
            streams = self._streams.get(user_id)
            if streams is not None:
                streams.discard(queue)
                if not streams:
                    del self._streams[user_id]

    def publish(self, user_id: int, event: LiveEvent) -> None:
        for queue in list(self._streams.get(user_id, ())):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                logger.warning("closing a live stream of user %d that fell behind", user_id)
                self._streams[user_id].discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(CLOSED)

    def stream_count(self, user_id: int) -> int:
        return len(self._streams.get(user_id, ()))


def to_live_event(envelope: Envelope) -> LiveEvent | None:
    """The push for a task, project, comment or notification event; None for other events."""
    kind = envelope.get("type", "")
    data = envelope.get("data") or {}
    if kind.startswith("task.") and "task" in data:
        return LiveEvent(envelope["id"], "task", {"type": kind, "task": data["task"]})
    if kind.startswith("project.") and "project" in data:
        return LiveEvent(envelope["id"], "project", {"type": kind, "project": data["project"]})
    if kind == "comment.added" and "comment" in data:
        return LiveEvent(envelope["id"], "comment", {"type": kind, "comment": data["comment"]})
    if kind == "notification.created":
        return LiveEvent(envelope["id"], "notification", {"notification": data["notification"]})
    return None


@contextlib.asynccontextmanager
async def live_feed(bus: EventBus, topics: Topics, hub: LiveHub) -> AsyncIterator[None]:
    """Feed `hub` from the bus while open (every process, workers or not)."""

    async def push(envelope: Envelope) -> None:
        event = to_live_event(envelope)
        if event is not None:
            hub.publish(int(envelope["userid"]), event)

    async with contextlib.AsyncExitStack() as stack:
        for topic in (topics.task_events, topics.notifications):
            await stack.enter_async_context(bus.subscribe(topic=topic, group=None, handler=push))
        yield
