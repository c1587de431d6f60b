"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select

from router.api.deps import core
from router.core import RouterCore
from router.store.tables import SwarmRow

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


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    rendered = ",".join(f'{k}="{v}"' for k, v in (labels or {}).items())
    return f"{name}{{{rendered}}} {value}" if rendered else f"{name} {value}"


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(core: RouterCore = Depends(core)) -> str:
    """Prometheus text format."""
    async with core.db.transaction() as session:
        by_status = dict((await session.execute(select(SwarmRow.status, func.count()).group_by(SwarmRow.status))).all())
    nodes = Counter(str(n.status) for n in core.ingest.nodes.values())
    lines = [
        "# HELP codeswarm_swarms Swarms known to the router, by status.",
        "# TYPE codeswarm_swarms gauge",
        *(_line("codeswarm_swarms", count, {"status": status}) for status, count in sorted(by_status.items())),
        "# HELP codeswarm_nodes Nodes of live swarms, by status.",
        "# TYPE codeswarm_nodes gauge",
        *(_line("codeswarm_nodes", count, {"status": status}) for status, count in sorted(nodes.items())),
        "# HELP codeswarm_ingested_records_total Outbox records ingested since the router started.",
        "# TYPE codeswarm_ingested_records_total counter",
        _line("codeswarm_ingested_records_total", core.ingest.records_ingested),
    ]
    return "\n".join(lines) + "\n"
