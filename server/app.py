"""The FastAPI application factory: the HTTP composition root."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from mcp_tools.server import create_mcp_server
from server import health
from server.config import Settings
from server.conversations import views as conversation_views
from server.conversations.chat import ToolConnector, embedded_tools, open_chat, remote_tools
from server.events import views as event_views
from server.events.live import live_feed
from server.http_errors import BodyLimit, install_error_handlers
from server.notifications import views as notification_views
from server.observability import ObservabilityMiddleware
from server.services import Services, build_services
from server.tasks import views as task_views
from server.tasks.dates import warm_up as warm_up_dates
from server.users import views as user_views
from server.web import views as web_views
from server.workers.runner import run_workers

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


def chat_tools(settings: Settings, mcp: MCPServer) -> ToolConnector:
    """The chat's tools: this process's own MCP server, or AGENT_MCP_URL's when set."""
    if settings.agent_mcp_url:
        return remote_tools(settings.agent_mcp_url, timeout=settings.llm_timeout_seconds)
    return embedded_tools(mcp)


def create_app(
    settings: Settings, *, workers: bool = True, services: Services | None = None
) -> FastAPI:
    """Build the app; start-up and shut-down happen in its lifespan, in order."""
    services = services or build_services(settings)
    mcp = create_mcp_server(services)
    # Stateless, JSON responses: any replica answers any request, and a client keeps working
    # across a server restart. DNS-rebinding protection is off on purpose: every request must
    # carry a bearer token, which a rebinding page does not have.
    mcp_app = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await services.db.migrate()
            await asyncio.to_thread(warm_up_dates)
            stack.push_async_callback(services.db.dispose)
            await stack.enter_async_context(services.bus)
            await stack.enter_async_context(live_feed(services))
            await stack.enter_async_context(mcp.session_manager.run())
            app.state.chat = await stack.enter_async_context(
                open_chat(settings, services.conversations, chat_tools(settings, mcp))
            )
            if workers:
                await stack.enter_async_context(run_workers(services))
            logger.info("todo-agent ready")
            yield
            logger.info("todo-agent shutting down")

    app = FastAPI(title="todo-agent", version="0.1.0", lifespan=lifespan)
    app.state.services = services
    app.state.mcp = mcp
    install_error_handlers(app)
    for module in (
        conversation_views,  # first: the chat's latency budget is a few milliseconds
        health,
        user_views,
        task_views,
        notification_views,
        event_views,
        web_views,
    ):
        app.include_router(module.router)
    # The MCP sub-app routes its own path, so `/mcp` is served as is (no redirect to `/mcp/`).
    app.router.routes.append(Route("/mcp", endpoint=mcp_app))
    # No request of this API is anywhere near 1 MiB (a chat message is at most 20k characters).
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.add_middleware(ObservabilityMiddleware, metrics=services.metrics)
    return app
