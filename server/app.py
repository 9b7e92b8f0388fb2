"""The FastAPI application, built on an open runtime (server/runtime.py).

The app adds the HTTP edge to a running process: the routes, the MCP streamable HTTP
transport at `/mcp` (with the OAuth endpoints that sign remote connectors in to it), and the
chat. Its lifespan starts what only HTTP needs (the MCP session manager, the provider
client) and yields the typed state the routes read through server/http/deps.py; the
runtime itself is opened and closed by whoever serves the app.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from mcp_tools.connectors import tool_connector
from server.conversations.chat import Chat, ToolConnector
from server.conversations.provider import open_agent
from server.events.flow import watch_event_flow
from server.http import (
    activity,
    calendar,
    conversations,
    events,
    health,
    notifications,
    oauth,
    openai,
    portability,
    projects,
    tasks,
    users,
)
from server.http.deps import AppState
from server.http.errors import BodyLimit, install_error_handlers
from server.http.origin import OriginGuard
from server.http.throttle import MINUTE, AuthFailureThrottle, FeedThrottle, Throttle
from server.observability import ObservabilityMiddleware, breaker_metrics
from server.runtime import Runtime
from server.web import views as web_views
from server.workers.consumers import build_consumers

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


def create_app(runtime: Runtime, *, tools: ToolConnector | None = None) -> FastAPI:
    """The HTTP app over `runtime`; the chat's tools come from `tools` (default: this
    process's own MCP server, or AGENT_MCP_URL's when set)."""
    settings = runtime.settings
    services = runtime.services
    tools = tools or tool_connector(settings, runtime.mcp)
    # Stateless: any replica answers any request, and a client keeps working across a server
    # restart. A request is answered with JSON unless its handler sends something first
    # (progress, a `subscriptions/listen` stream): then it is an SSE stream. The SDK's
    # DNS-rebinding protection (which pins the Host header) is off: OriginGuard checks a
    # browser's Origin instead, and every request must carry a bearer token, which a
    # rebinding page does not have.
    mcp_app = runtime.mcp.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=False,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    # Each HTTP app gets a session manager of its own, which runs once, in this lifespan.
    session_manager = runtime.mcp.session_manager

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[AppState]:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(session_manager.run())
            # Readiness and /metrics read how events flow, measured in the background.
            groups = [(consumer.name, consumer.topic) for consumer in build_consumers(services)]
            await stack.enter_async_context(
                watch_event_flow(services.db, runtime.bus, runtime.flow, groups)
            )
            agent = await stack.enter_async_context(open_agent(settings))
            chat = Chat(conversations=services.conversations, agent=agent, connect_tools=tools)
            breakers = {
                name: breaker
                for name, breaker in (
                    ("llm", agent and agent.breaker),
                    ("remote_mcp", getattr(tools, "breaker", None)),
                )
                if breaker is not None
            }
            breaker_metrics(services.metrics).breakers = breakers
            logger.info("todo-agent ready")
            yield AppState(
                services=services,
                bus=runtime.bus,
                live=runtime.live,
                flow=runtime.flow,
                chat=chat,
                feed_throttle=FeedThrottle(),
                chat_turns=Throttle(limit=settings.chat_turns_per_minute, window=MINUTE),
                breakers=breakers,
            )
            logger.info("todo-agent shutting down")

    app = FastAPI(title="todo-agent", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    # Routes match in order: the chat first (its latency budget is a few milliseconds),
    # then /mcp, the other hot path, before the other routers (each tool call would try
    # every route of theirs first).
    app.include_router(conversations.router)
    # The MCP sub-app routes its own path, so `/mcp` is served as is (no redirect to `/mcp/`).
    guarded = OriginGuard(mcp_app, allowed=settings.mcp_allowed_origin_set)
    app.router.routes.append(Route("/mcp", endpoint=guarded))
    for module in (
        health,
        users,
        tasks,
        projects,
        activity,
        notifications,
        events,
        oauth,
        calendar,
        portability,
        openai,
        web_views,
    ):
        app.include_router(module.router)
    app.router.routes.extend(oauth.routes)
    # No request of this API is anywhere near 1 MiB (a chat message is at most 20k characters).
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    failures = Throttle(limit=settings.auth_failures_per_minute, window=MINUTE)
    app.add_middleware(AuthFailureThrottle, limit=failures)
    app.add_middleware(ObservabilityMiddleware, metrics=services.metrics)
    return app
