"""Reading a live `GET /api/events` stream in tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx


@dataclass
class Stream:
    events: asyncio.Queue[tuple[str, dict]]
    ended: asyncio.Event  # set when the server closes the stream

    async def next(self, name: str, *, within: float = 15.0) -> dict:
        """The data of the next event called `name` (others are skipped)."""
        async with asyncio.timeout(within):
            while True:
                event, data = await self.events.get()
                if event == name:
                    return data

    async def end(self, *, within: float = 15.0) -> None:
        """Wait for the server to close the stream."""
        async with asyncio.timeout(within):
            await self.ended.wait()


@contextlib.asynccontextmanager
async def live_events(base_url: str, token: str) -> AsyncIterator[Stream]:
    """Open the stream (token in the query, as EventSource sends it) and read it in the
    background; yields once the server has registered the stream."""
    events: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()
    connected, ended = asyncio.Event(), asyncio.Event()

    async def read(response: httpx.Response) -> None:
        name, data = "message", []
        try:
            async for line in response.aiter_lines():
                if line == ": connected":
                    connected.set()
                elif line.startswith("event: "):
                    name = line[len("event: ") :]
                elif line.startswith("data: "):
                    data.append(line[len("data: ") :])
                elif line == "" and data:
                    await events.put((name, json.loads("\n".join(data))))
                    name, data = "message", []
        finally:
            ended.set()

    async with (
        httpx.AsyncClient(base_url=base_url, timeout=None) as client,
        client.stream("GET", "/api/events", params={"access_token": token}) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = asyncio.create_task(read(response))
        try:
            async with asyncio.timeout(10):
                await connected.wait()
            yield Stream(events, ended)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await reader
