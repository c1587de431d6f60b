"""Reconciliation: on start and every interval, make the read model agree with the router's list.

The router is the authority.  A swarm it does not list is dropped and clients get ``swarm_removed``;
a swarm it lists that the mirror lacks is added and a swarm whose state differs is corrected, and
clients get a ``swarm_status`` carrying the router's whole swarm.  These events are the mirror's own:
they go to its clients, never to the bus.

When the router does not answer nothing is dropped: the mirror keeps serving what it has, reports
itself degraded (``/readyz`` answers 503 with the reason) and tries again sooner than the interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass

from mirror.hub import Hub
from mirror.ledger import RequestLedger
from mirror.readmodel import ReadModel
from mirror.router_client import RouterClient, RouterUnavailable
from services.protocol import EventName

log = logging.getLogger(__name__)

REMOVED_REASON = "the router no longer lists this swarm"


@dataclass(eq=False)
class Reconciler:
    router: RouterClient
    model: ReadModel
    hub: Hub
    ledger: RequestLedger
    _: KW_ONLY
    interval_s: float
    retry_s: float = 2.0  # the delay after a failure (at most interval_s)
    timeout_s: float = 10.0
    after_success: Callable[[], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        self.retry_s = min(self.retry_s, self.interval_s)
        self.problem: str | None = "not reconciled with the router yet"
        self.last_success: float | None = None  # time.time() of the last good reconcile
        self.failures = 0

    @property
    def healthy(self) -> bool:
        return self.problem is None

    async def reconcile_once(self) -> bool:
        asked_at = self.model.position_key
        try:
            listed = await self.router.list_swarms(timeout_s=self.timeout_s)
        except RouterUnavailable as exc:
            self.failures += 1
            if self.problem is None or self.problem.startswith("not reconciled"):
                log.warning("reconcile failed; serving the last known state: %s", exc.message)
            self.problem = f"router not reconciled: {exc.message}"
            return False
        outcome = self.model.reconcile(listed, asked_at)
        for swarm in outcome.removed:
            data: dict[str, object] = {
                "swarm_id": swarm["swarm_id"],
                "job_id": swarm.get("job_id"),
                "reason": REMOVED_REASON,
            }
            self._announce(EventName.SWARM_REMOVED, data)
        for swarm in outcome.changed:
            self._announce(
                EventName.SWARM_STATUS,
                {
                    "swarm_id": swarm["swarm_id"],
                    "job_id": swarm.get("job_id"),
                    "status": swarm.get("status"),
                    "health": swarm.get("health"),
                    "reason": swarm.get("reason"),
                    "health_reason": swarm.get("health_reason"),
                    "swarm": swarm,
                },
            )
        if outcome.removed or outcome.changed:
            log.info("reconciled: %d removed, %d added or corrected", len(outcome.removed), len(outcome.changed))
        if self.problem is not None and not self.problem.startswith("not reconciled yet"):
            log.info("router answers again; reconciled")
        self.problem = None
        self.last_success = time.time()
        if self.after_success is not None:
            await self.after_success()
        return True

    def _announce(self, event: str, data: dict[str, object]) -> None:
        request_id = self.ledger.creator_of(str(data["swarm_id"]))
        if request_id is not None:
            data["request_id"] = request_id
        self.hub.announce(event, data)

    async def run(self) -> None:
        while True:
            delay = self.interval_s if self.healthy else self.retry_s
            await asyncio.sleep(delay)
            try:
                await self.reconcile_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop reconciling for good
                log.exception("reconcile failed unexpectedly")
                self.problem = "reconcile failed unexpectedly (see the mirror's log)"
