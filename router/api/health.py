"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from router.api.deps import BusDep, DbDep, MetricsDep
from router.store.swarms import swarm_counts_by_status
from services.metrics import TEXT_FORMAT, exposition

# /healthz answers without a token (liveness probes); everything else here is guarded.
open_router = APIRouter(tags=["health"])
router = APIRouter(tags=["health"])


@open_router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(db: DbDep, bus: BusDep) -> JSONResponse:
    checks = {"database": await db.ping(), "bus": await bus.ping()}
    ready = all(checks.values())
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": {k: "ok" if v else "down" for k, v in checks.items()},
        },
        status_code=200 if ready else 503,
    )


@router.get("/metrics", response_class=Response, responses={200: {"content": {TEXT_FORMAT: {}}}})
async def metrics(db: DbDep, router_metrics: MetricsDep) -> Response:
    """Prometheus text format (README "Metrics" lists the series)."""
    async with db.transaction() as session:
        router_metrics.swarms_by_status = await swarm_counts_by_status(session)
    return exposition(router_metrics.registry)
