"""What every command shares: its signature, the usage error, and a runtime for data."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from server.config import Settings
from server.runtime import open_runtime
from server.services import Services

Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]


class UsageError(Exception):
    """Bad usage detected after parsing; exits with code 2."""


async def with_services(settings: Settings, action: Callable[[Services], Awaitable[int]]) -> int:
    """Run `action` on the services of a runtime that only reads and writes data."""
    async with open_runtime(settings, events=False) as runtime:
        return await action(runtime.services)
