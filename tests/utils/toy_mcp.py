"""A small MCP server of our own (toy tools) for agent and chat tests."""

from __future__ import annotations

import asyncio
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field


class Sum(BaseModel):
    total: int


class Toy:
    """What the toy tools did, so a test can assert it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.waiting = 0
        self.both_waiting = asyncio.Event()
        self.slow_started = asyncio.Event()
        self.slow_cancelled = asyncio.Event()


def toy_server(toy: Toy) -> MCPServer:
    mcp = MCPServer("toy", instructions="Toy tools for tests.")

    @mcp.tool()
    async def add(a: Annotated[int, Field(description="first number")], b: int) -> Sum:
        """Add two numbers."""
        toy.calls.append(("add", {"a": a, "b": b}))
        return Sum(total=a + b)

    @mcp.tool()
    async def fail(reason: str) -> Sum:
        """Always fails."""
        raise ToolError(f"reason: {reason}")

    @mcp.tool()
    async def rendezvous(name: str) -> str:
        """Returns only once two calls are running at the same time."""
        toy.calls.append(("rendezvous", {"name": name}))
        toy.waiting += 1
        if toy.waiting == 2:
            toy.both_waiting.set()
        await asyncio.wait_for(toy.both_waiting.wait(), timeout=10)
        return f"met {name}"

    @mcp.tool()
    async def slow() -> str:
        """Never finishes on its own."""
        toy.slow_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            toy.slow_cancelled.set()
            raise
        return "never"

    return mcp
