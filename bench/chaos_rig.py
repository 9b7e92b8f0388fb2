"""The rig bench/chaos.py runs: todo-agent processes, writers over REST and MCP, and live
(SSE) clients; the broker, PostgreSQL and the mail server come from testkit/."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from testkit.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
STARTED = time.monotonic()


def say(message: str) -> None:
    """Progress, with the seconds since the run began."""
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


class Agent:
    """One `todo-agent` process (serve or worker), its log in a file of its own."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.args = args
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO", **env}
        self.cwd = logs  # away from any .env of the checkout
        self.log = logs / f"{name}.log"
        self.port = free_port() if args[0] == "serve" else None
        if self.port is not None:
            self.args = [*args, "--port", str(self.port)]
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self) -> int:
        return len(self.log.read_bytes().splitlines()) if self.log.exists() else 0

    async def start(self, *, within: float = 90.0) -> float:
        """Start and wait until it serves (or, a worker, says it is ready); a start that
        fails (the broker is down) is tried again. Returns the seconds it took."""
        began = time.monotonic()
        while True:
            mark = self.lines()
            with self.log.open("ab") as out:
                self.process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "server.cli", *self.args,
                    cwd=self.cwd, env=self.env, stdout=out, stderr=out,
                )  # fmt: skip
            while self.process.returncode is None:
                if await self._ready(mark):
                    return time.monotonic() - began
                await asyncio.sleep(0.05)
            if time.monotonic() - began > within:
                raise RuntimeError(f"{self.name} does not start: see {self.log}")
            await asyncio.sleep(1)

    async def _ready(self, mark: int) -> bool:
        if self.port is None:
            text = self.log.read_bytes().splitlines()[mark:]
            return any(b"todo-agent worker ready" in line for line in text)
        try:
            async with httpx.AsyncClient(timeout=1) as http:
                return (await http.get(f"{self.url}/health/live")).status_code == 200
        except httpx.HTTPError:
            return False

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=20)
            except TimeoutError:
                await self.kill()


@dataclass
class Ledger:
    """What the writers were told: every acknowledged create, by idempotency key."""

    acked: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (task id, title)
    retries: int = 0


def due_a_while_ago() -> str:
    """Due five minutes ago: the scheduler fires its `due` alert at once."""
    return (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0).isoformat()


async def rest_writer(
    urls: list[str], token: str, tag: str, ledger: Ledger, stop: asyncio.Event, pause: float
) -> None:
    """Create tasks over REST, each retried with its Idempotency-Key (on the next API when
    there are several) until it is acknowledged or the run ends."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=10) as http:
        for n in range(sys.maxsize):
            if stop.is_set():
                return
            key, title = uuid.uuid4().hex, f"{tag}-{n}"
            body = {"title": title, "due": due_a_while_ago()}
            for attempt in range(sys.maxsize):
                url = urls[(n + attempt) % len(urls)]
                try:
                    response = await http.post(
                        f"{url}/api/tasks", json=body, headers={"Idempotency-Key": key}
                    )
                    if response.status_code in (200, 201):
                        ledger.acked[key] = (response.json()["id"], title)
                        break
                except httpx.HTTPError:
                    pass
                ledger.retries += 1
                if stop.is_set():
                    return
                await asyncio.sleep(0.2)
            await asyncio.sleep(pause)


async def mcp_writer(
    url: str, token: str, tag: str, ledger: Ledger, stop: asyncio.Event, pause: float
) -> None:
    """Create tasks with the `add_task` tool over streamable HTTP, one session kept across
    server restarts (the endpoint is stateless), retried with the same idempotency_key."""
    headers = {"Authorization": f"Bearer {token}"}
    pending: dict[str, str] | None = None  # a retry sends the very same call (same key)
    n = 0
    while not stop.is_set():
        try:
            async with (
                httpx2.AsyncClient(headers=headers, timeout=10) as http,
                Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
            ):
                while not stop.is_set():
                    if pending is None:
                        key, title = uuid.uuid4().hex, f"{tag}-{n}"
                        pending = {"title": title, "due": due_a_while_ago(), "idempotency_key": key}
                        n += 1
                    arguments = pending
                    key, title = arguments["idempotency_key"], arguments["title"]
                    try:
                        result = await client.call_tool("add_task", arguments)
                    except Exception:  # the server went away mid-call: same key again
                        ledger.retries += 1
                        await asyncio.sleep(0.2)
                        continue
                    if not result.is_error:
                        ledger.acked[key] = (result.structured_content["id"], title)
                        pending = None
                        await asyncio.sleep(pause)
                    else:
                        ledger.retries += 1
                        await asyncio.sleep(0.2)
        except Exception:  # could not even open the session: the server is restarting
            ledger.retries += 1
            await asyncio.sleep(0.5)


@dataclass
class LiveClient:
    """An EventSource-like client of GET /api/events: reconnects with Last-Event-ID."""

    name: str
    url: str
    token: str
    user_id: int
    received: list[str] = field(default_factory=list)  # event ids, in order
    resets: int = 0
    reconnects: int = -1
    errors: list[str] = field(default_factory=list)  # what ended its connections
    last_event_id: str = ""
    connected: asyncio.Event = field(default_factory=asyncio.Event)  # it knows where it starts

    def duplicates(self) -> int:
        return sum(n - 1 for n in Counter(self.received).values() if n > 1)

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as http:
            while not stop.is_set():
                self.reconnects += 1
                headers = {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}
                params = {"access_token": self.token}
                try:
                    async with http.stream(
                        "GET", f"{self.url}/api/events", params=params, headers=headers
                    ) as response:
                        if response.status_code != 200:
                            self.errors.append(f"HTTP {response.status_code}")
                        else:
                            await self._read(response)
                except Exception as exc:  # any of them: reconnect, as EventSource does
                    self.errors.append(repr(exc))
                await asyncio.sleep(0.5)

    async def _read(self, response: httpx.Response) -> None:
        name, data, pending_id = "message", [], self.last_event_id
        async for line in response.aiter_lines():
            if line == ": connected":
                self.connected.set()
            elif line.startswith("id:"):
                pending_id = line[3:].strip()
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "":
                self.last_event_id = pending_id
                if data and name == "reset":
                    self.resets += 1
                elif data and name in ("task", "notification"):
                    self.received.append(pending_id)
                    json.loads("\n".join(data))
                name, data = "message", []


@contextlib.asynccontextmanager
async def running(tasks: list[Coroutine[Any, Any, None]]) -> AsyncIterator[list[asyncio.Task]]:
    """Run coroutines as owned tasks; cancel and await them on exit."""
    started = [asyncio.create_task(task) for task in tasks]
    try:
        yield started
    finally:
        for task in started:
            task.cancel()
        await asyncio.gather(*started, return_exceptions=True)
