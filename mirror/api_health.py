"""Liveness, readiness and metrics of the mirror."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from mirror.deps import Core
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


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(core: Core) -> str:
    """Prometheus text format."""
    hub, reconciler = core.hub, core.reconciler
    series = [
        ("codeswarm_mirror_sse_clients", "gauge", "SSE clients connected.", len(hub.subscribers)),
        ("codeswarm_mirror_bus_entries_total", "counter", "Bus entries read and fanned out.", hub.events_in),
        ("codeswarm_mirror_clients_cut_total", "counter", "SSE clients cut off for falling behind.", hub.clients_cut),
        ("codeswarm_mirror_swarms", "gauge", "Swarms in the read model.", len(core.model.swarms)),
        (
            "codeswarm_mirror_reconcile_failures_total",
            "counter",
            "Reconciles the router did not answer.",
            reconciler.failures,
        ),
        ("codeswarm_mirror_ready", "gauge", "1 when nothing is degraded.", 0 if core.problems() else 1),
    ]
    lines: list[str] = []
    for name, kind, text, value in series:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    return "\n".join(lines) + "\n"
