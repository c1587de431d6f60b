"""Liveness, readiness and metrics of the mirror."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from mirror.api.deps import Core
from services.metrics import TEXT_FORMAT, exposition
from services.protocol import utc_timestamp

open_router = APIRouter(tags=["health"])  # no token: liveness probes
router = APIRouter(tags=["health"])


@open_router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(core: Core) -> JSONResponse:
    """200 when the bus answers and the last reconcile with the router succeeded; otherwise 503
    ``{status: "degraded", reasons: [...]}`` — the mirror still serves what it has."""
    problems = core.problems()
    if not await core.bus.ping():
        problems.insert(0, "the event bus does not answer")
    last = core.reconciler.last_success
    body = {
        "status": "degraded" if problems else "ready",
        "reasons": problems,
        "last_event_id": core.model.position,
        "reconciled_at": utc_timestamp(last) if last else None,
        "clients": len(core.hub.subscribers),
    }
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics", response_class=Response, responses={200: {"content": {TEXT_FORMAT: {}}}})
async def metrics(core: Core) -> Response:
    """Prometheus text format (README "Metrics" lists the series)."""
    return exposition(core.hub.metrics.registry)
