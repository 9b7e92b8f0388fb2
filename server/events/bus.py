"""The event bus interface and the in-process implementation (Kafka lives in kafka.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)

Envelope = dict[str, Any]
Handler = Callable[[Envelope], Awaitable[None]]


class EventBus(Protocol):
    """Publish CloudEvents to topics; deliver them to subscribed handlers."""

    async def __aenter__(self) -> EventBus: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def publish(self, *, topic: str, key: str, envelope: Envelope) -> None: ...

    def subscribe(self, *, topic: str, group: str, handler: Handler) -> None: ...

    async def ping(self) -> None: ...


class InProcessBus:
    """Delivers each published event to every subscribed group's handler, in process."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    async def __aenter__(self) -> InProcessBus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def publish(self, *, topic: str, key: str, envelope: Envelope) -> None:
        for handler in self._handlers.get(topic, []):
            await handler(envelope)

    def subscribe(self, *, topic: str, group: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    async def ping(self) -> None:
        return None
