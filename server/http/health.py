"""Liveness, readiness and Prometheus metrics.

Ready means: the database answers, the broker answers (as the bus last saw it, at most a
second ago), and events flow (`EventFlow.problems`: nothing stuck for longer than
EVENT_STALL_SECONDS). Readiness does one `SELECT 1`; the rest is read from memory. A change
of readiness is logged once, not at every probe.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.http.deps import BreakersDep, FlowDep, ServicesDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(services: ServicesDep, flow: FlowDep, breakers: BreakersDep) -> JSONResponse:
    """503 with the reason when the database or the broker is unreachable or events have
    stopped flowing. The circuit breakers (language model provider, AGENT_MCP_URL) are
    reported but do not make a replica unready: every replica shares the same provider, and
    the rest of the API works without it."""
    checks = {"database": "ok", "bus": "ok", "events": "ok"}
    try:
        await asyncio.wait_for(services.db.ping(), timeout=3)
    except Exception as exc:  # any failure means not ready; the reason is reported
        checks["database"] = f"unavailable: {type(exc).__name__}"
    if flow.broker_problem is not None:
        checks["bus"] = f"unavailable: {flow.broker_problem}"
    if problems := flow.problems():
        checks["events"] = "stalled: " + "; ".join(problems)
    ok = all(value == "ok" for value in checks.values())
    if ok != flow.ready:
        flow.ready = ok
        if ok:
            logger.info("ready again")
        else:
            logger.warning("not ready: %s", checks)
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": checks,
        "circuit_breakers": {name: asdict(b.snapshot()) for name, b in breakers.items()},
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
