"""In-process request limits: failed sign-ins per client address (every route, /mcp and the
event stream included), chat turns per user, and the calendar feed.

Each is a `Throttle`: at most `limit` events per key in each `window` of seconds, counted in
fixed windows, in memory (each replica counts its own, so with N replicas a client may get up
to N times the limit). It remembers at most `max_keys` keys, forgetting the least recently
seen first, so a flood of distinct keys costs bounded memory; a limit of 0 never limits.

A client address whose requests with credentials (an Authorization header, or the
`access_token` query parameter of /api/events) were refused AUTH_FAILURES_PER_MINUTE times
gets 429 with `Retry-After` for every request with credentials until the window ends, a
good token included (or guessing would learn which guess was right); requests without
credentials (the web page, health checks) still pass.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import Throttled
from server.http.errors import error_response
from server.users.models import User

logger = logging.getLogger(__name__)

MINUTE = 60.0


class Throttle:
    def __init__(
        self,
        *,
        limit: int,
        window: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._counts: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._counts)

    def wait(self, key: Hashable) -> int:
        """Seconds until `key` may have one more event (0: now); nothing is counted."""
        if not self.limit:
            return 0
        now = self.clock()
        started, count = self._counts.get(key, (now, 0))
        if now - started >= self.window or count < self.limit:
            return 0
        return max(1, math.ceil(started + self.window - now))

    def hit(self, key: Hashable) -> int:
        """Count one event of `key`; returns `wait` after it."""
        if not self.limit:
            return 0
        now = self.clock()
        started, count = self._counts.pop(key, (now, 0))
        if now - started >= self.window:
            started, count = now, 0
        self._counts[key] = (started, count + 1)
        while len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
        return self.wait(key)

    def check(self, key: Hashable, what: str) -> None:
        """Count one request for `key`; Throttled (naming `what`) past the limit."""
        if retry_after := self.wait(key):
            raise Throttled(
                f"too many {what}; try again in {retry_after} s", retry_after=retry_after
            )
        self.hit(key)


class FeedThrottle:
    """Calendar feed requests: per client address (which also bounds guessing keys) and per
    feed key (a calendar app polling far too often)."""

    PER_ADDRESS = 30
    PER_KEY = 20
    WINDOW_SECONDS = 60.0

    def __init__(self) -> None:
        self.by_address = Throttle(limit=self.PER_ADDRESS, window=self.WINDOW_SECONDS)
        self.by_key = Throttle(limit=self.PER_KEY, window=self.WINDOW_SECONDS)

    def check(self, *, address: str, key: str) -> None:
        self.by_address.check(address, "calendar feed requests from this address")
        self.by_key.check(key, "requests for this calendar feed")


def admit_chat_turn(request: Request, user: User) -> None:
    """Count a chat turn of `user` (POST /api/chat, /v1/chat/completions); Throttled past
    CHAT_TURNS_PER_MINUTE."""
    request.state.chat_turns.check(user.id, "chat messages in a minute (CHAT_TURNS_PER_MINUTE)")


class AuthFailureThrottle:
    """ASGI middleware: counts 401 answers to requests with credentials per client address,
    and answers 429 to an address over AUTH_FAILURES_PER_MINUTE (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, limit: Throttle) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_credentials(scope):
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown",))[0]
        if retry_after := self.limit.wait(address):
            message = "too many failed sign-ins from this address; try again later"
            details = {"retry_after": retry_after}
            headers = {"Retry-After": str(retry_after)}
            response = error_response(429, "rate_limited", message, details, headers)
            await response(scope, receive, send)
            return
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            if status == 401 and self.limit.hit(address):
                logger.warning("too many failed sign-ins from %s: throttled", address)


def _has_credentials(scope: Scope) -> bool:
    if any(name == b"authorization" for name, _ in scope.get("headers") or ()):
        return True
    return b"access_token=" in scope.get("query_string", b"")
