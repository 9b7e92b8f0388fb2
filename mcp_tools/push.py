"""Live push to MCP clients that listen (`subscriptions/listen`, 2026-07-28): each user's
listen streams are told when a resource they watch changes and when their resource list
changes, whoever made the change (REST, chat, another MCP client, a worker, another replica).

Two pieces, on the SDK's seam:
- `UserSubscriptions` is the SDK's pluggable `SubscriptionBus`, keyed by user: a listen
  stream is registered under the user of the connection that opened it, and an event goes
  only to its user's streams (another user never learns that something changed).
- `PushFeed` turns the project's own events into the SDK's events. It is one more sink of
  the live feed (server/events/live.py), the broadcast subscription every process keeps to
  the task events, so every replica pushes every replica's changes. What arrives in one
  short window is merged per user (a batch of 50 tasks is one push per resource).

Delivery is as the SDK's: no replay; a dropped stream costs nothing but its listener, and a
client that listens again reads again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable

import anyio.lowlevel
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated, ServerEvent

from mcp_tools.resources import TODAY, UPCOMING, project_uri, task_uri
from server.events.bus import Envelope

logger = logging.getLogger(__name__)

Listener = Callable[[ServerEvent], None]
# What a client may have missed when the broadcast had to start over: the lists.
AFTER_A_GAP: tuple[ServerEvent, ...] = (
    ResourcesListChanged(),
    ResourceUpdated(uri=TODAY),
    ResourceUpdated(uri=UPCOMING),
)


def _connection_user() -> int | None:
    access = get_access_token()
    return int(access.subject) if access is not None and access.subject else None


class UserSubscriptions:
    """The SDK's `SubscriptionBus`, with each listen stream kept under its user."""

    def __init__(self) -> None:
        self._listeners: dict[int, dict[object, Listener]] = {}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Register a listen stream of the current connection's user (the SDK calls this
        in the `subscriptions/listen` request, where the transport has set the user)."""
        user_id = _connection_user()
        if user_id is None:
            return lambda: None
        token = object()
        self._listeners.setdefault(user_id, {})[token] = listener

        def unsubscribe() -> None:
            streams = self._listeners.get(user_id)
            if streams is not None:
                streams.pop(token, None)
                if not streams:
                    del self._listeners[user_id]

        return unsubscribe

    async def publish(self, event: ServerEvent) -> None:
        """An event from a handler (`ctx.notify_*`): for the current user's streams."""
        user_id = _connection_user()
        if user_id is not None:
            self.deliver(user_id, (event,))
        await anyio.lowlevel.checkpoint()

    def deliver(self, user_id: int, events: Iterable[ServerEvent]) -> None:
        listeners = list(self._listeners.get(user_id, {}).values())
        for event in events:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:  # one bad stream must not starve the others
                    logger.exception("listen stream of user %s failed an event", user_id)

    def deliver_to_all(self, events: Iterable[ServerEvent]) -> None:
        events = tuple(events)
        for user_id in list(self._listeners):
            self.deliver(user_id, events)

    def streams(self, user_id: int) -> int:
        """How many listen streams the user has open in this process."""
        return len(self._listeners.get(user_id, {}))


def events_for(envelope: Envelope) -> list[ServerEvent]:
    """What a task, project or comment event changes for the user's MCP resources."""
    kind = envelope.get("type", "")
    data = envelope.get("data") or {}
    if kind.startswith("task.") and isinstance(data.get("task"), dict):
        task = data["task"]
        uris = [task_uri(task["id"]), TODAY, UPCOMING]
        if task.get("parent_id"):
            uris.append(task_uri(task["parent_id"]))
        if task.get("project_id"):
            uris.append(project_uri(task["project_id"]))
        # A task's title or due time shows in the resource list (today's tasks).
        return [ResourcesListChanged(), *(ResourceUpdated(uri=uri) for uri in uris)]
    if kind.startswith("project.") and isinstance(data.get("project"), dict):
        uris = [project_uri(data["project"]["id"]), TODAY, UPCOMING]
        return [ResourcesListChanged(), *(ResourceUpdated(uri=uri) for uri in uris)]
    if kind == "comment.added" and isinstance(data.get("comment"), dict):
        return [ResourceUpdated(uri=task_uri(data["comment"]["task_id"]))]
    return []


class PushFeed:
    """A sink of the live feed: the project's events, merged per user over `window`
    seconds, delivered to `subscriptions`."""

    def __init__(self, subscriptions: UserSubscriptions, *, window: float = 0.02) -> None:
        self.subscriptions = subscriptions
        self.window = window
        self._pending: dict[int, dict[ServerEvent, None]] = {}
        self._gap = False
        self._wake = asyncio.Event()

    async def take(self, envelope: Envelope) -> None:
        events = events_for(envelope)
        user = envelope.get("userid")
        if not events or user is None:
            return
        user_id = int(user)
        if self.subscriptions.streams(user_id):
            self._pending.setdefault(user_id, {}).update(dict.fromkeys(events))
            self._wake.set()

    def gap(self) -> None:
        self._gap = True
        self._wake.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Deliver what `take` collects while open."""
        flusher = asyncio.create_task(self._flush(), name="mcp push")
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher

    async def _flush(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.window)
            self._wake.clear()
            pending, self._pending = self._pending, {}
            gap, self._gap = self._gap, False
            for user_id, events in pending.items():
                self.subscriptions.deliver(user_id, events)
            if gap:
                self.subscriptions.deliver_to_all(AFTER_A_GAP)
