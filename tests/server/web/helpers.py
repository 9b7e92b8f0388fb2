"""Helpers for the browser tests and the README screenshot: `todo-agent serve` in a
subprocess on a fresh database, and Debian chromium driven by playwright."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from testkit.servers import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALLED = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
SIGNIN_URL = re.compile(r"(http://\S+/#token=(\S+))")

# The server sees only the settings a caller passes, never the machine's own.
SETTINGS_PREFIXES = (
    "DATABASE_",
    "OPENAI_",
    "LLM_",
    "KAFKA_",
    "SMTP_",
    "SCHEDULER_",
    "REMINDER_",
    "OVERDUE_",
    "AUTH_",
    "AGENT_",
    "PUBLIC_URL",
    "OAUTH_",
    "EVENT_",
    "ACTIVITY_",
    "LOG_LEVEL",
)

# Start-up waits are generous upper bounds so a slow CI machine never fails a test.
STARTUP_LIMIT_SECONDS = 60

CHROMIUM_MISSING = (
    f"Debian chromium is not installed at {CHROMIUM} (apt-get install chromium); "
    "`playwright install` cannot download browsers here"
)


@dataclass
class RunningServer:
    """A `todo-agent serve` process on a fresh database."""

    base_url: str
    signin_url: str  # the URL it printed at first start
    token: str
    output: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextlib.asynccontextmanager
async def run_serve(workdir: Path, env: dict[str, str]) -> AsyncIterator[RunningServer]:
    """Run `todo-agent serve` on a free port with `env` added; yield once it answers."""
    port = free_port()
    process_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)},
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/todo.db",
        "SCHEDULER_INTERVAL_SECONDS": "0.2",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        "--port",
        str(port),
        cwd=workdir,  # no stray .env is read
        env=process_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[str] = []
    drain: asyncio.Task | None = None
    try:
        async with asyncio.timeout(STARTUP_LIMIT_SECONDS):
            match = None
            while match is None:
                line = await process.stdout.readline()
                if not line:
                    raise RuntimeError("todo-agent serve exited:\n" + "".join(output))
                output.append(line.decode(errors="replace"))
                match = SIGNIN_URL.search(output[-1])
            # Keep reading, so a full pipe never blocks the server's logging.
            drain = asyncio.create_task(_collect(process.stdout, output))
            base_url = f"http://127.0.0.1:{port}"
            await _wait_until_live(base_url, process, output)
        yield RunningServer(
            base_url=base_url, signin_url=match.group(1), token=match.group(2), output=output
        )
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(15):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain


async def _collect(stream: asyncio.StreamReader, output: list[str]) -> None:
    while line := await stream.readline():
        output.append(line.decode(errors="replace"))


async def _wait_until_live(
    base_url: str, process: asyncio.subprocess.Process, output: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        while True:
            if process.returncode is not None:
                raise RuntimeError("todo-agent serve exited:\n" + "".join(output))
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health/live")).status_code == 200:
                    return
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def launch_chromium() -> AsyncIterator:
    """Debian chromium under playwright (`playwright install` cannot download browsers here)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class PageProblems:
    """What the page did wrong: uncaught errors and requests to anywhere but the server."""

    errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def open_page(
    browser, base_url: str, *, width: int = 1280, height: int = 800, also_allowed: tuple = ()
):
    """A fresh browser context and page; fails on an uncaught error or an outside request
    (to anywhere but the server and the `also_allowed` URL prefixes)."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    problems = PageProblems()
    page.on("pageerror", lambda error: problems.errors.append(str(error)))

    def check_origin(request) -> None:
        if not request.url.startswith((base_url + "/", "data:", *also_allowed)):
            problems.foreign_requests.append(request.url)

    page.on("request", check_origin)
    try:
        yield page
    finally:
        await context.close()
    assert problems.errors == [], "the page raised uncaught errors"
    assert problems.foreign_requests == [], "the page loaded something from outside the server"


class DroppingProxy:
    """A TCP proxy in front of the server whose connections the test can cut, as a flaky
    network would (the browser's own offline mode leaves open streams alone)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._pipes: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> DroppingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.drop()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def drop(self) -> None:
        """Cut every connection open now."""
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._pipes.update((writer, up_writer))
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )
        self._pipes.difference_update((writer, up_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
