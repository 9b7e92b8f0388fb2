"""Metrics (Prometheus, one registry per app) and request ids on every log line."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import IO, Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The method label comes from the client: unknown ones are folded so series stay bounded.
KNOWN_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# A client's X-Request-ID is kept only when it cannot forge a log line or a header: short,
# and letters, digits and . _ : - only. Anything else gets a fresh id.
SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def choose_request_id(given: bytes | None) -> str:
    """The client's request id when it is safe to repeat, else a fresh one."""
    if given and SAFE_REQUEST_ID.fullmatch(given):
        return given.decode("ascii")
    return uuid.uuid4().hex[:16]


class Metrics:
    """The service's Prometheus metrics, on a registry of its own (tests build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.tasks_created = Counter("tasks_created_total", "Tasks created", registry=self.registry)
        self.tasks_completed = Counter(
            "tasks_completed_total", "Tasks completed", registry=self.registry
        )
        # Metric groups other layers register on this registry once (e.g. the workers').
        self.groups: dict[str, Any] = {}


class Breaker(Protocol):
    """What the metrics read of a circuit breaker (agent/breaker.py)."""

    def snapshot(self) -> Any: ...


BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


class BreakerMetrics:
    """The circuit breakers' state at each scrape: a collector on the registry, registered
    once; each app's lifespan hands it that app's breakers."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.breakers: Mapping[str, Breaker] = {}
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "circuit_breaker_state", "0 closed, 1 half-open, 2 open", labels=["breaker"]
        )
        rejected = CounterMetricFamily(
            "circuit_breaker_rejected", "Calls refused while open", labels=["breaker"]
        )
        opened = CounterMetricFamily(
            "circuit_breaker_opened", "Times the breaker opened", labels=["breaker"]
        )
        for name, breaker in sorted(self.breakers.items()):
            snapshot = breaker.snapshot()
            state.add_metric([name], BREAKER_STATES[snapshot.state])
            rejected.add_metric([name], snapshot.rejected)
            opened.add_metric([name], snapshot.opened)
        yield from (state, rejected, opened)


def breaker_metrics(metrics: Metrics) -> BreakerMetrics:
    found = metrics.groups.get("breakers")
    if found is None:
        found = metrics.groups["breakers"] = BreakerMetrics(metrics.registry)
    return found


class ObservabilityMiddleware:
    """Counts and times each request by route template and status; sets a request id."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = choose_request_id(headers.get(b"x-request-id"))
        token = request_id.set(rid)
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or _mount_prefix(scope["path"])
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.metrics.requests.labels(method, path, str(status)).inc()
            self.metrics.latency.labels(method, path).observe(time.perf_counter() - start)
            request_id.reset(token)


def _mount_prefix(path: str) -> str:
    return "/mcp" if path.startswith("/mcp") else "unmatched"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def log_handler(stream: IO[str]) -> logging.Handler:
    """A handler writing the service's log lines, each with its request id, to `stream`."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr (stdout belongs to the MCP protocol on stdio), with request ids."""
    root = logging.getLogger()
    root.handlers[:] = [log_handler(sys.stderr)]
    root.setLevel(level)
    for noisy in ("aiokafka", "alembic", "httpx", "httpx2", "mcp", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
