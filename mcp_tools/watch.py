"""`resources/subscribe` for clients on revisions before 2026-07-28, where it is how a
client watches a resource: served on connections that last (stdio, in process), fed by the
same per-user listeners as `subscriptions/listen` (mcp_tools/push.py).

The SDK's server no longer registers these methods (the 2026-07-28 revision removed them),
so they are added on its low-level server, as the SDK's docs say to re-provide a removed
method. A stateless HTTP request cannot be told anything after it is answered: there, the
method is refused with a pointer to `subscriptions/listen`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated, ServerEvent
from mcp_types import INVALID_REQUEST, EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from mcp_tools.push import UserSubscriptions

logger = logging.getLogger(__name__)

BACKLOG = 1024


@dataclass(eq=False)
class _Watch:
    uris: set[str] = field(default_factory=set)
    stop: Callable[[], None] = lambda: None


class ResourceWatches:
    """The resources each lasting session subscribed to, told through its session."""

    def __init__(self, subscriptions: UserSubscriptions) -> None:
        self.subscriptions = subscriptions
        self._watches: dict[ServerSession, _Watch] = {}
        self._outbox: asyncio.Queue[tuple[ServerSession, str]] = asyncio.Queue(BACKLOG)

    def install(self, mcp: MCPServer) -> None:
        lowlevel = mcp._lowlevel_server  # noqa: SLF001 - the SDK's way to re-provide a method
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self.subscribe)
        lowlevel.add_request_handler(
            "resources/unsubscribe", UnsubscribeRequestParams, self.unsubscribe
        )

    async def subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        if ctx.request is not None:  # an HTTP request: nothing can reach it once answered
            raise MCPError(
                INVALID_REQUEST,
                "resources/subscribe needs a lasting connection (stdio); over HTTP, listen "
                "with subscriptions/listen (protocol 2026-07-28)",
            )
        session = ctx.session
        watch = self._watches.get(session)
        if watch is None:
            watch = self._watches[session] = _Watch()
            watch.stop = self.subscriptions.subscribe(self._listener(session, watch))
        watch.uris.add(params.uri)
        return EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        watch = self._watches.get(ctx.session)
        if watch is not None:
            watch.uris.discard(params.uri)
            if not watch.uris:
                self._forget(ctx.session)
        return EmptyResult()

    def _listener(self, session: ServerSession, watch: _Watch) -> Callable[[ServerEvent], None]:
        def listen(event: ServerEvent) -> None:
            if isinstance(event, ResourceUpdated) and event.uri in watch.uris:
                try:
                    self._outbox.put_nowait((session, event.uri))
                except asyncio.QueueFull:
                    logger.warning("resource watch backlog full; dropping %s", event.uri)

        return listen

    def _forget(self, session: ServerSession) -> None:
        watch = self._watches.pop(session, None)
        if watch is not None:
            watch.stop()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Send what the watches collect while open (the MCP server's lifespan)."""
        sender = asyncio.create_task(self._send(), name="mcp resource watches")
        try:
            yield
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _send(self) -> None:
        while True:
            session, uri = await self._outbox.get()
            if session not in self._watches:
                continue
            try:
                await session.send_resource_updated(uri)
            except Exception:  # the connection is gone: so is its watch
                logger.info("a watching session went away; forgetting its subscriptions")
                self._forget(session)
