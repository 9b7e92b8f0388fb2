"""The event bus interface and the in-process implementation (Kafka lives in kafka.py).

A bus takes CloudEvents from the outbox relay and delivers them to subscribed handlers.
Within a consumer group each event reaches one handler; every group sees every event.
`group=None` subscribes this process alone to every event from now on (a broadcast,
used to feed live pushes on every replica).

`send` returns an acknowledgement to await: for Kafka it resolves when the broker has the
event (acks=all), in process when every group's handler has finished with it, so the
relay marks an event published only once it can no longer be lost with this process.
A broker can still lose what it acknowledged (one that comes back empty): `take_loss` tells
the relay, which sends those events again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from server.events.flow import EventFlow

logger = logging.getLogger(__name__)

Envelope = dict[str, Any]
Handler = Callable[[Envelope], Awaitable[None]]
Ack = Awaitable[Any]
# What `send` takes: a CloudEvent, or its JSON text as stored in the outbox (sent as is).
Outgoing = Envelope | str


class BusClosed(Exception):
    """The subscription that held an event stopped before handling it; send it again."""


class EventBus(Protocol):
    """Publish CloudEvents to topics; deliver them to subscribed handlers."""

    async def __aenter__(self) -> EventBus: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def send(self, *, topic: str, key: str, envelope: Outgoing) -> Ack:
        """Queue an event (in order per key) and return its acknowledgement to await."""
        ...

    async def send_many(self, *, topic: str, events: Sequence[tuple[str, Outgoing]]) -> Ack:
        """Queue (key, envelope) pairs in order; one acknowledgement for all of them."""
        ...

    async def publish(self, *, topic: str, key: str, envelope: Outgoing) -> None:
        """Send an event and wait for its acknowledgement."""
        ...

    def subscribe(
        self,
        *,
        topic: str,
        group: str | None,
        handler: Handler,
        on_gap: Callable[[], None] | None = None,
    ) -> AbstractAsyncContextManager[None]:
        """Deliver the topic's events to `handler` while the returned context is open.
        A broadcast calls `on_gap` when it may have skipped events (it had to start over)."""
        ...

    async def ping(self) -> None:
        """Raise when the bus is unreachable."""
        ...

    def take_loss(self) -> datetime | None:
        """When the broker lost acknowledged events since the last call: the time of the
        last acknowledgement it had given before (what was published until then may be
        gone); otherwise None."""
        ...

    async def measure_groups(self, groups: Sequence[tuple[str, str]], flow: EventFlow) -> None:
        """Record in `flow` how far each (consumer name, topic) group is behind."""
        ...


class _Countdown:
    """One acknowledgement shared by the groups an event went to."""

    def __init__(self, pending: int) -> None:
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending = pending

    def done(self) -> None:
        self.pending -= 1
        if self.pending == 0 and not self.future.done():
            self.future.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


@dataclass(eq=False)
class _Member:
    """One subscription: a bounded queue drained in order by its own task."""

    handler: Handler
    queue: asyncio.Queue[tuple[Envelope, _Countdown]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=10_000)
    )

    async def drain(self) -> None:
        while True:
            envelope, ack = await self.queue.get()
            try:
                await self.handler(envelope)
            except asyncio.CancelledError:
                ack.fail(BusClosed("subscription stopped"))
                raise
            except Exception as exc:  # the handler could not even park the event: resend it
                logger.exception("in-process handler failed on event %s", envelope.get("id"))
                ack.fail(exc)
            else:
                ack.done()

    def abandon(self) -> None:
        while not self.queue.empty():
            _, ack = self.queue.get_nowait()
            ack.fail(BusClosed("subscription stopped"))


class InProcessBus:
    """Delivers each event to one member of every subscribed group, in this process."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[str, list[_Member]]] = {}

    async def __aenter__(self) -> InProcessBus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, *, topic: str, key: str, envelope: Outgoing) -> Ack:
        if isinstance(envelope, str):
            envelope = json.loads(envelope)
        targets = [
            members[zlib.crc32(key.encode()) % len(members)]
            for members in self._groups.get(topic, {}).values()
            if members
        ]
        ack = _Countdown(len(targets))
        if not targets:
            ack.future.set_result(None)
        for member in targets:
            await member.queue.put((envelope, ack))
        return ack.future

    async def send_many(self, *, topic: str, events: Sequence[tuple[str, Outgoing]]) -> Ack:
        acks = [
            await self.send(topic=topic, key=key, envelope=envelope) for key, envelope in events
        ]
        return asyncio.gather(*acks)

    async def publish(self, *, topic: str, key: str, envelope: Outgoing) -> None:
        await (await self.send(topic=topic, key=key, envelope=envelope))

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        *,
        topic: str,
        group: str | None,
        handler: Handler,
        on_gap: Callable[[], None] | None = None,
    ) -> AsyncIterator[None]:
        member = _Member(handler)  # in process nothing is skipped: `on_gap` is never called
        # Each broadcast subscription is a group of its own: it sees every event.
        name = group if group is not None else f"broadcast-{id(member)}"
        members = self._groups.setdefault(topic, {}).setdefault(name, [])
        members.append(member)
        task = asyncio.create_task(member.drain(), name=f"in-process {topic}/{group}")
        try:
            yield
        finally:
            members.remove(member)
            if not members:
                del self._groups[topic][name]
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            member.abandon()

    async def ping(self) -> None:
        return None

    def take_loss(self) -> datetime | None:
        return None  # handlers have finished with an event before it is acknowledged

    async def measure_groups(self, groups: Sequence[tuple[str, str]], flow: EventFlow) -> None:
        return None  # a group's handler holds its events' acknowledgements: no lag to see
