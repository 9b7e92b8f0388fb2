"""Limits on HTTP connections, whoever connects: the size of a request head (431 past it),
the time to send it (408; slowloris), idle keep-alive time, and how many connections are open
at once (503 past it, refused as they connect).

uvicorn bounds keep-alive time itself (`timeout_keep_alive`), but its httptools protocol
(what `serve` runs) has no limit on a request head's size or on the time to receive it, and
`limit_concurrency` answers only once a head has arrived, so a connection that never
finishes its head is held forever. `guarded_protocol` adds those limits to that protocol:
its parser says where each head begins and ends, and bytes are counted as they arrive, so a
64 MiB header is refused after the limit (plus at most one read), not buffered.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from server.config import Settings

# The error code, and the part of the request at fault, of each refusal.
REFUSALS = {
    400: ("bad_request", "request"),
    408: ("timeout", "headers"),
    431: ("headers_too_large", "headers"),
    503: ("unavailable", None),
}
# After refusing a request, how long to read and drop what the client still sends.
LINGER_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout_seconds: float
    keepalive_seconds: int
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            max_header_bytes=settings.http_max_header_bytes,
            header_timeout_seconds=settings.http_header_timeout_seconds,
            keepalive_seconds=settings.http_keepalive_seconds,
            max_connections=settings.http_max_connections,
        )

    def uvicorn_options(self) -> dict[str, Any]:
        """The uvicorn.Config options that apply these limits."""
        return {
            "http": guarded_protocol(self),
            "timeout_keep_alive": self.keepalive_seconds,
            # Used only if uvicorn runs its h11 protocol instead (the same head limit).
            "h11_max_incomplete_event_size": self.max_header_bytes,
        }


def guarded_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with `limits` (give it as uvicorn.Config(http=...))."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that was refused."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """A connection is "reading a head" from when it opens, and from the first byte of each
    later request, until that request's headers are complete. Its size is checked twice: as
    bytes arrive (a head that is still incomplete, so nothing big is ever buffered), and
    from the parsed request line and headers when it completes (a head that arrived whole)."""

    limits: ClassVar[ConnectionLimits]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._reading_head = True
        self._head_begun = False  # a byte of a request's head has arrived
        self._head_bytes = 0  # bytes received while reading this head
        self._head_size = 0  # its request line and headers, as parsed
        self._timer: asyncio.TimerHandle | None = None  # the head's timeout, or the linger
        self._refused = False
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503, "too many connections; try again shortly", {"Retry-After": "1"})
            return
        self._start_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse_too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = self._head_begun = True
        self._head_size = 0
        self._start_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._head_size += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        self._reading_head = self._head_begun = False
        self._head_bytes = 0
        self._stop_head_timer()
        if self._head_size > self.limits.max_header_bytes:
            self._refuse_too_large()
            raise _Refused
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """A request the parser cannot read: the JSON error shape, like every other error."""
        if not self._refused:  # else the parser stopped on our refusal, already answered
            self._refuse(400, "the request is not valid HTTP/1.1")

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        if self._timer is None:
            timeout = self.limits.header_timeout_seconds
            self._timer = self.loop.call_later(timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_timed_out(self) -> None:
        self._timer = None
        if not self._reading_head or self.transport.is_closing():
            return
        if not self._head_begun:
            self.transport.close()  # a new connection that never sent a byte
            return
        self._refuse(408, "the request head took too long to arrive")

    def _refuse_too_large(self) -> None:
        self._refuse(431, f"the request head is larger than {self.limits.max_header_bytes} bytes")

    def _refuse(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """Answer `status` with the JSON error shape and close the connection.

        What the client still sends is read and dropped for a moment (a "lingering close",
        as nginx does): closing with unread data would reset the connection, and the client
        could lose the answer.
        """
        self._refused = True
        self._stop_head_timer()
        if self.transport.is_closing():
            return
        code, field = REFUSALS[status]
        details = {"field": field, "rule": message} if field else {}
        error = {"code": code, "message": f"{field}: {message}" if field else message}
        body = json.dumps({"error": error | {"details": details}}).encode()
        lines = [STATUS_LINE[status]]
        for name, value in [
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            ("connection", "close"),
            *(headers or {}).items(),
        ]:
            lines.append(f"{name}: {value}\r\n".encode())
        self.transport.write(b"".join([*lines, b"\r\n", body]))
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
