"""Liveness, readiness (database and bus) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.http.deps import BreakersDep, BusDep, ServicesDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(services: ServicesDep, bus: BusDep, breakers: BreakersDep) -> JSONResponse:
    """503 when the database or the bus is unreachable. The circuit breakers (language model
    provider, AGENT_MCP_URL) are reported but do not make a replica unready: every replica
    shares the same provider, and the rest of the API works without it."""
    checks = {}
    for name, probe in (("database", services.db.ping), ("bus", bus.ping)):
        try:
            await asyncio.wait_for(probe(), timeout=3)
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; the reason is reported
            logger.warning("readiness check %s failed: %r", name, exc)
            checks[name] = f"unavailable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": checks,
        "circuit_breakers": {name: asdict(b.snapshot()) for name, b in breakers.items()},
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
