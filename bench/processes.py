"""Processes the benchmarks start and watch: the scripted provider, `todo-agent serve`, and
their CPU time and resident memory read from /proc."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REPLY = "Hello! You have three tasks due today: call mum, pay the rent and water the plants."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_ready(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.returncode is not None:
                raise RuntimeError(f"{url}: the process exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code < 500:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} never answered")


@contextlib.asynccontextmanager
async def provider(reply: str = REPLY, *, hang: bool = False) -> AsyncIterator[tuple[str, int]]:
    """The scripted provider in a process of its own (its streams never end with `hang`);
    yields its base URL and pid."""
    port = free_port()
    options = ["--hang"] if hang else []
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "testkit.fake_llm", "--port", str(port), "--reply", reply),
        *options,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))},
    )
    try:
        await wait_ready(f"http://127.0.0.1:{port}/v1/models", process)
        yield f"http://127.0.0.1:{port}/v1", process.pid
    finally:
        process.terminate()
        await process.wait()


@contextlib.asynccontextmanager
async def serve(
    workdir: str,
    *,
    workers: bool = False,
    env: dict[str, str] | None = None,
    token: str | None = None,
) -> AsyncIterator[tuple[str, str, int]]:
    """`todo-agent serve` on the SQLite file in `workdir` (with `--no-workers` unless
    `workers`); yields its URL, the first user's token (printed on a fresh database; pass
    it in to start again on the same one) and its pid."""
    port = free_port()
    kept = {
        key: value
        for key, value in os.environ.items()
        if key in ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")
    }
    kept |= {"DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/bench.db", "LOG_LEVEL": "WARNING"}
    kept |= env or {}
    command = [str(BIN / "todo-agent"), "serve", "--port", str(port)]
    if not workers:
        command.append("--no-workers")
    process = await asyncio.create_subprocess_exec(
        *command, cwd=workdir, env=kept, stdout=asyncio.subprocess.PIPE
    )
    try:
        while token is None and (line := (await process.stdout.readline()).decode()):
            if line.startswith("API token"):
                token = line.rsplit(":", 1)[1].strip()
                break
        if not token:
            raise RuntimeError("the server printed no token")
        url = f"http://127.0.0.1:{port}"
        await wait_ready(f"{url}/health/live", process)
        yield url, token, process.pid
    finally:
        process.terminate()
        await process.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    if pid == os.getpid():
        import time

        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """A process's resident memory now (VmRSS), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
