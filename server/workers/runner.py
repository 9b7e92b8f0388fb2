"""Starts and stops every background worker in order (relay, scheduler, consumers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.services import Services


@asynccontextmanager
async def run_workers(services: Services) -> AsyncIterator[None]:
    """Run the workers until the context exits; they stop in reverse start order."""
    yield
