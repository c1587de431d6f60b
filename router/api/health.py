"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select

from router.api.deps import core
from router.core import RouterCore
from router.store.tables import SwarmRow
from services.metrics import TEXT_FORMAT, exposition

# /healthz answers without a token (liveness probes); everything else here is guarded.
open_router = APIRouter(tags=["health"])
router = APIRouter(tags=["health"])


@open_router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(core: RouterCore = Depends(core)) -> JSONResponse:
    checks = {"database": await core.db.ping(), "bus": await core.bus.ping()}
    ready = all(checks.values())
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": {k: "ok" if v else "down" for k, v in checks.items()},
        },
        status_code=200 if ready else 503,
    )


@router.get("/metrics", response_class=Response, responses={200: {"content": {TEXT_FORMAT: {}}}})
async def metrics(core: RouterCore = Depends(core)) -> Response:
    """Prometheus text format (README "Metrics" lists the series)."""
    async with core.db.transaction() as session:
        by_status = (await session.execute(select(SwarmRow.status, func.count()).group_by(SwarmRow.status))).all()
    core.metrics.swarms_by_status = {str(status): int(count) for status, count in by_status}
    return exposition(core.metrics.registry)
