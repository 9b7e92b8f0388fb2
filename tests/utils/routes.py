"""Every route of the app, read from the app itself, so tests that go over all of them (the
fuzz tests, the auth matrix) cover a new route without being told."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from fastapi import FastAPI
from mcp_types import Tool

from mcp_tools.push import UserSubscriptions
from mcp_tools.server import create_mcp_server
from server.app import create_app
from server.events.bus import InProcessBus
from server.events.flow import EventFlow
from server.events.live import LiveHub
from server.runtime import Runtime
from server.services import build_services
from tests.utils.app import make_settings

# A route that answers any method (a mounted ASGI app such as /mcp) is tried with these.
ANY_METHOD = ("GET", "POST", "DELETE")
PARAMETER = re.compile(r"{([^}:]+)(:[^}]+)?}")


@dataclass(frozen=True, slots=True)
class AppRoute:
    method: str
    path: str  # the template, e.g. /api/tasks/{task_id}

    @property
    def parameters(self) -> list[str]:
        return [match.group(1) for match in PARAMETER.finditer(self.path)]

    def url(self, **values: object) -> str:
        return PARAMETER.sub(lambda m: str(values[m.group(1)]), self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def app_routes(app: FastAPI) -> list[AppRoute]:
    """(method, path) of every route the app serves, HEAD and OPTIONS aside."""
    found: set[AppRoute] = set()
    for route in app.routes:
        candidates = getattr(route, "effective_candidates", None)
        for candidate in candidates() if candidates else [route]:
            methods = getattr(candidate, "methods", None) or ANY_METHOD
            for method in methods:
                if method not in ("HEAD", "OPTIONS"):
                    found.add(AppRoute(method, candidate.path))
    return sorted(found, key=lambda r: (r.path, r.method))


def unopened_runtime() -> Runtime:
    """A runtime that is never opened (nothing is connected or migrated): what an app and
    an MCP server are built from, for reading their routes and tools at collection time."""
    settings = make_settings(database_url="sqlite+aiosqlite:///:memory:")
    services = build_services(settings)
    listeners = UserSubscriptions()
    return Runtime(
        settings=settings,
        services=services,
        bus=InProcessBus(),
        live=LiveHub(),
        flow=EventFlow(stall_seconds=settings.event_stall_seconds),
        mcp=create_mcp_server(services, subscriptions=listeners),
        listeners=listeners,
    )


def routes_at_collection() -> list[AppRoute]:
    """Every route of the app, for parametrizing a test over them when it is collected."""
    return app_routes(create_app(unopened_runtime()))


def tools_at_collection() -> list[Tool]:
    """Every tool of the MCP server, for parametrizing a test over them."""
    return asyncio.run(unopened_runtime().mcp.list_tools())


def operation(app: FastAPI, route: AppRoute) -> dict:
    """The route's OpenAPI operation ({} for a route outside the schema)."""
    return app.openapi()["paths"].get(route.path, {}).get(route.method.lower(), {})
