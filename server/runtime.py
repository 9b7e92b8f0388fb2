"""The composition root: everything a process runs, built from Settings and closed in reverse.

    async with open_runtime(settings, workers=True) as runtime:
        ...   # runtime.services, runtime.bus, runtime.live, runtime.mcp

`serve`, `worker`, `mcp` (stdio), the data commands of the CLI, the tests and the
benchmarks all open one; the HTTP app is built on an open runtime (server/app.py). It
migrates the database, connects the bus, feeds the live hub from it and, when asked, runs
the workers; on exit they stop in reverse: workers, live feed, bus, database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from mcp.server import MCPServer

from mcp_tools.push import PushFeed, UserSubscriptions
from mcp_tools.server import create_mcp_server
from server.config import Settings
from server.events.bus import EventBus, InProcessBus
from server.events.flow import EventFlow
from server.events.live import LiveHub, live_feed
from server.notifications.email import EmailSender
from server.oauth.documents import MetadataDocuments
from server.services import Services, build_services
from server.workers.runner import run_workers

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    """One process's running parts."""

    settings: Settings
    services: Services
    bus: EventBus
    live: LiveHub
    flow: EventFlow
    mcp: MCPServer[Services]
    listeners: UserSubscriptions  # the MCP server's listen streams, by user


def build_bus(settings: Settings, services: Services, flow: EventFlow) -> EventBus:
    if settings.kafka_bootstrap_servers:
        from server.events.kafka import KafkaBus  # aiokafka only where Kafka is configured

        return KafkaBus(settings=settings, topics=services.topics, flow=flow)
    return InProcessBus()


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    workers: bool = False,
    events: bool = True,
    email: EmailSender | None = None,
    oauth_documents: MetadataDocuments | None = None,
) -> AsyncIterator[Runtime]:
    """Start a process's parts; `workers` also runs the relay, scheduler and consumers.

    `events=False` is for commands that only read and write data: no bus connection and no
    live feed (the events they write wait in the outbox for a relay). `email` replaces the
    sender SMTP_* configures, `oauth_documents` the fetcher of OAuth clients' metadata
    documents (tests).
    """
    services = build_services(settings, oauth_documents=oauth_documents)
    # How events flow in this process (readiness, /metrics): fed by the bus and the watch.
    flow = EventFlow(stall_seconds=settings.event_stall_seconds)
    services.metrics.registry.register(flow)
    bus = build_bus(settings, services, flow) if events else InProcessBus()
    # MCP clients that listen are pushed the changes the live feed sees (mcp_tools/push.py).
    subscriptions = UserSubscriptions()
    push = PushFeed(subscriptions)
    runtime = Runtime(
        settings=settings,
        services=services,
        bus=bus,
        live=LiveHub(),
        flow=flow,
        mcp=create_mcp_server(services, subscriptions=subscriptions),
        listeners=subscriptions,
    )
    async with AsyncExitStack() as stack:
        stack.push_async_callback(services.db.dispose)
        await services.db.migrate(reminder_lead_minutes=settings.reminder_lead_minutes)
        # dateparser's language data (~8 MB) loads with the first date given as a phrase
        # (~0.2 s, once per process; server/tasks/dates.py), not here.
        if events:
            await stack.enter_async_context(bus)
            await stack.enter_async_context(push.running())
            await stack.enter_async_context(
                live_feed(bus, services.topics, runtime.live, sinks=[push])
            )
        if workers:
            await stack.enter_async_context(run_workers(services, bus, email=email))
        yield runtime
