"""A long-running `todo-agent` command (`worker`, `serve`) as a real process, its log read."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.utils.events import eventually

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Process:
    """A `todo-agent` command running as a real process, its stderr collected line by line."""

    name: str
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)

    async def read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.lines.append(line.decode().rstrip())

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    async def saying(self, text: str) -> bool:
        """Whether it has logged `text` yet (a probe for `eventually`); fails once it exited."""
        if self.process.returncode is not None:
            raise AssertionError(f"{self.name} exited:\n" + "\n".join(self.lines))
        return self.said(text)


@contextlib.asynccontextmanager
async def todo_agent(
    cwd, *args: str, env: dict[str, str], name: str | None = None, ready: str | None = None
) -> AsyncIterator[Process]:
    """Run `todo-agent ARGS` in `cwd` (away from any .env of the checkout) with `env` added;
    with `ready`, yield once it has logged that line. Killed on the way out if still running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        *args,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    running = Process(name or args[0], process)
    reader = asyncio.create_task(running.read())
    try:
        if ready is not None:
            await eventually(lambda: running.saying(ready), within=30)
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await reader
