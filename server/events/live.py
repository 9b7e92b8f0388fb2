"""Live pushes: which open `GET /api/events` streams to wake, and what an event (task,
project, comment, notification) looks like.

The streams read the events themselves from the outbox (server/events/replay.py), in the
order they were published, so a stream that reconnects with `Last-Event-ID` gets exactly
what it missed. What comes over the bus only wakes them: `live_feed` keeps a broadcast
subscription to the task and notification topics in every process (so every replica sees
the events of every replica) and wakes the streams of the event's user; when a broadcast
had to start over (it may have skipped events), it wakes them all. Other sinks (the MCP
server's live push, mcp_tools/push.py) are fed from the same subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from server.events.bus import Envelope, EventBus
from server.events.outbox import Topics


@dataclass(frozen=True, slots=True)
class LiveEvent:
    id: str
    name: str
    data: dict[str, Any]


class LiveSink(Protocol):
    """Something else the live feed hands every task and notification event to."""

    async def take(self, envelope: Envelope) -> None:
        """Note the event quickly (the feed waits for it before the next one)."""
        ...

    def gap(self) -> None:
        """The broadcast had to start over: events may have been skipped."""
        ...


class LiveHub:
    """Wakes the open streams of each user, in this process."""

    def __init__(self, *, keepalive_seconds: float = 15.0) -> None:
        self.keepalive_seconds = keepalive_seconds
        self._streams: dict[int, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def subscribe(self, user_id: int) -> Iterator[asyncio.Event]:
        """An event set whenever the user may have something new; the stream clears it."""
        woken = asyncio.Event()
        self._streams.setdefault(user_id, set()).add(woken)
        try:
            yield woken
        finally:
            streams = self._streams.get(user_id)
            if streams is not None:
                streams.discard(woken)
                if not streams:
                    del self._streams[user_id]

    def wake(self, user_id: int) -> None:
        for woken in self._streams.get(user_id, ()):
            woken.set()

    def wake_all(self) -> None:
        for streams in self._streams.values():
            for woken in streams:
                woken.set()


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
async def live_feed(
    bus: EventBus, topics: Topics, hub: LiveHub, *, sinks: Sequence[LiveSink] = ()
) -> AsyncIterator[None]:
    """Wake `hub`'s streams from the bus while open (every process, workers or not), and
    hand each event to `sinks`."""

    async def push(envelope: Envelope) -> None:
        if to_live_event(envelope) is not None:
            hub.wake(int(envelope["userid"]))
        for sink in sinks:
            await sink.take(envelope)

    def gap() -> None:
        hub.wake_all()
        for sink in sinks:
            sink.gap()

    async with contextlib.AsyncExitStack() as stack:
        for topic in (topics.task_events, topics.notifications):
            await stack.enter_async_context(
                bus.subscribe(topic=topic, group=None, handler=push, on_gap=gap)
            )
        yield
