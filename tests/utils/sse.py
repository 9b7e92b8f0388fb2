"""Reading a live `GET /api/events` stream in tests, as EventSource reads it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Event:
    name: str
    data: dict
    id: str  # the stream's last event id once this event arrived


@dataclass
class Stream:
    events: asyncio.Queue[Event]
    ended: asyncio.Event  # set when the server closes the stream
    last_id: list[str] = field(default_factory=lambda: [""])  # what EventSource would resend

    @property
    def last_event_id(self) -> str:
        return self.last_id[0]

    async def next_event(self, *, within: float = 15.0) -> Event:
        async with asyncio.timeout(within):
            return await self.events.get()

    async def next(self, name: str, *, within: float = 15.0) -> dict:
        """The data of the next event called `name` (others are skipped)."""
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                if event.name == name:
                    return event.data

    async def end(self, *, within: float = 15.0) -> None:
        """Wait for the server to close the stream."""
        async with asyncio.timeout(within):
            await self.ended.wait()


@contextlib.asynccontextmanager
async def live_events(
    base_url: str, token: str, *, last_event_id: str | None = None
) -> AsyncIterator[Stream]:
    """Open the stream (token in the query, as EventSource sends it; `Last-Event-ID` as it
    sends it on a reconnect) and read it in the background; yields once the server has
    registered the stream and said where it starts (its opening `id:`)."""
    stream = Stream(asyncio.Queue(), asyncio.Event())
    connected = asyncio.Event()  # the server sends it once it knows where the stream starts

    async def read(response: httpx.Response) -> None:
        name, data, pending_id = "message", [], stream.last_event_id
        try:
            async for line in response.aiter_lines():
                if line == ": connected":
                    connected.set()
                elif line.startswith("id:"):
                    pending_id = line[len("id:") :].strip()
                elif line.startswith("event: "):
                    name = line[len("event: ") :]
                elif line.startswith("data: "):
                    data.append(line[len("data: ") :])
                elif line == "":
                    stream.last_id[0] = pending_id  # only a whole event moves it
                    if data:
                        event = Event(name, json.loads("\n".join(data)), stream.last_event_id)
                        await stream.events.put(event)
                    name, data = "message", []
        finally:
            stream.ended.set()

    headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=None) as client,
        client.stream(
            "GET", "/api/events", params={"access_token": token}, headers=headers
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = asyncio.create_task(read(response))
        try:
            async with asyncio.timeout(10):
                await connected.wait()
            yield stream
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await reader
