"""`/mcp` refuses a browser request whose `Origin` is not allowed (the MCP transport spec's
defence against DNS rebinding): allowed are the server's own origin, localhost, and
MCP_ALLOWED_ORIGINS. Requests without an `Origin` (desktop and server-side clients, curl)
are not affected; each still needs its bearer token.

The SDK's own guard (TransportSecuritySettings) also pins the Host header to a list, which
every deployment behind a proxy or under its own name would have to configure; this checks
the Origin alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from server.http.errors import error_response

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_key(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin such as https://claude.ai; None if it is none."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


class OriginGuard:
    """Wraps the MCP transport: a present `Origin` must be allowed, or the answer is 403."""

    def __init__(self, app: ASGIApp, *, allowed: frozenset[str]) -> None:
        self.app = app
        self.any = "*" in allowed
        self.allowed = {key for key in map(origin_key, allowed) if key is not None}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            origin = headers.get(b"origin")
            if origin is not None and not self.allows(origin.decode("latin-1"), headers):
                response = error_response(
                    403,
                    "forbidden",
                    "origin: this web page's origin may not use /mcp (allowed: this server, "
                    "localhost, MCP_ALLOWED_ORIGINS)",
                    {"field": "origin", "rule": "must be this server, localhost, or allowed"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def allows(self, origin: str, headers: dict[bytes, bytes]) -> bool:
        key = origin_key(origin)
        if key is None:
            return self.any  # "null" (a sandboxed page, a file) or garbage
        if self.any or key in self.allowed or key[1] in LOCAL_HOSTS:
            return True
        host = headers.get(b"host", b"").decode("latin-1")
        own = origin_key(f"{key[0]}://{host}")
        return own == key
