"""Connection limits of the real `todo-agent serve`, over real sockets: a request head's size
and the time to send it, idle connections, and how many may be open at once."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from testkit.servers import free_port

TODO_AGENT = Path(sys.executable).parent / "todo-agent"
LIMITS = {
    "HTTP_MAX_HEADER_BYTES": "4096",
    "HTTP_HEADER_TIMEOUT_SECONDS": "1.5",
    "HTTP_KEEPALIVE_SECONDS": "1",
    "HTTP_MAX_CONNECTIONS": "6",
}
# How long a test waits for the server to act before it fails (the limits above are ~1 s).
PATIENCE = 30


@dataclass
class Served:
    port: int
    token: str
    pid: int

    def memory(self) -> int:
        """The server process's resident memory, in bytes."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) * 1024


@pytest.fixture(scope="module")
async def served(tmp_path_factory) -> AsyncIterator[Served]:
    """`todo-agent serve` on a free port with small limits; its first-start token."""
    cwd = tmp_path_factory.mktemp("serve")
    port = free_port()
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env = base | LIMITS | {"DATABASE_URL": f"sqlite+aiosqlite:///{cwd}/todo.db"}
    process = await asyncio.create_subprocess_exec(
        str(TODO_AGENT),
        "serve",
        "--port",
        str(port),
        "--no-workers",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=(cwd / "serve.log").open("wb"),  # read it when a test here fails
    )
    try:
        token = await asyncio.wait_for(_first_token(process), timeout=PATIENCE)
        await asyncio.wait_for(_ready(port), timeout=PATIENCE)
        yield Served(port=port, token=token, pid=process.pid)
    finally:
        process.terminate()
        await process.wait()


async def _first_token(process: asyncio.subprocess.Process) -> str:
    while line := (await process.stdout.readline()).decode():
        if line.startswith("API token (shown once): "):
            return line.split(": ", 1)[1].strip()
    raise RuntimeError("serve exited before printing its token")


async def _ready(port: int) -> None:
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health/live")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)


async def connect(served: Served) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", served.port)


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), timeout=PATIENCE)


def status_and_error(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)["error"]


async def test_a_request_head_over_the_limit_is_431_and_the_connection_closed(served):
    reader, writer = await connect(served)
    writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 100_000)
    writer.write(b"\r\n\r\n")

    answer = await read_until_closed(reader)

    status, error = status_and_error(answer)
    assert status == 431 and error["code"] == "headers_too_large"
    writer.close()


async def test_a_huge_header_is_refused_without_being_kept_in_memory(served):
    before = served.memory()
    reader, writer = await connect(served)
    writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Padding: ")
    try:
        for _ in range(1024):  # the hostile test's 64 MiB header
            writer.write(b"a" * 65536)
            await writer.drain()
    except ConnectionError:
        pass  # the server closed the connection while it was being sent

    answer = await read_until_closed(reader)

    assert status_and_error(answer)[0] == 431
    assert served.memory() - before < 16 * 1024 * 1024
    writer.close()


async def test_a_request_head_sent_too_slowly_is_408_and_the_connection_closed(served):
    reader, writer = await connect(served)
    writer.write(b"POST /api/chat HTTP/1.1\r\nHost: x\r\n")

    async def trickle() -> None:  # slowloris: a header byte now and then, never the end
        try:
            while True:
                writer.write(b"X")
                await writer.drain()
                await asyncio.sleep(0.2)
        except ConnectionError:
            pass

    trickling = asyncio.create_task(trickle())
    try:
        answer = await read_until_closed(reader)
    finally:
        trickling.cancel()
        await asyncio.gather(trickling, return_exceptions=True)

    status, error = status_and_error(answer)
    assert status == 408 and error["code"] == "timeout"
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed(served):
    reader, writer = await connect(served)

    assert await read_until_closed(reader) == b""
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed_after_its_answer(served):
    reader, writer = await connect(served)
    writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")

    answer = await read_until_closed(reader)  # the answer, then the close once idle

    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"status":"ok"}')
    writer.close()


async def test_connections_over_the_limit_are_refused_as_they_connect(served):
    # Live event streams hold their connections open, as they would in browsers.
    request = f"GET /api/events?access_token={served.token} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    streams = []
    try:
        for _ in range(int(LIMITS["HTTP_MAX_CONNECTIONS"])):
            reader, writer = await connect(served)
            writer.write(request)
            assert (await asyncio.wait_for(reader.readline(), PATIENCE)).startswith(b"HTTP/1.1 200")
            streams.append(writer)

        reader, writer = await connect(served)
        refused = await read_until_closed(reader)
        writer.close()
    finally:
        for stream in streams:
            stream.close()

    status, error = status_and_error(refused)
    assert status == 503 and error["code"] == "unavailable"
    assert b"retry-after: 1" in refused.lower()
    # Once the streams are gone, connections are served again.
    assert await served_again(served)


async def served_again(served: Served) -> bool:
    """Whether a new connection is served within PATIENCE (closed ones take a moment)."""
    async with httpx.AsyncClient() as client:
        for _ in range(PATIENCE * 10):
            try:
                answer = await client.get(f"http://127.0.0.1:{served.port}/health/live")
                if answer.status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    return False
