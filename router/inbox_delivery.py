"""Accepted injections → node inboxes: written in the order they were accepted, one swarm at a time, and
every one given its outcome (`delivered` or `failed`, with its event).

The outcome is retried until it commits, so while the router runs no injection stays `accepted`; one that
a crash left `accepted` is delivered again by the next start (``pending``): a node takes an injection id
once, so a line it already had is ignored; those of a swarm that is no longer injectable fail, saying why."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from router.lifecycle import emit
from router.metrics import RouterMetrics
from router.providers.base import Provider
from router.store.database import Database
from router.store.swarms import now
from router.store.tables import InjectionRow, SwarmRow
from services.node.records import INBOX_INJECT
from services.protocol import EventName, InjectionStatus

log = logging.getLogger(__name__)

OUTCOME_RETRY_MIN_S, OUTCOME_RETRY_MAX_S = 0.5, 30.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """One accepted injection, as its node's inbox line says it."""

    injection_id: str
    node_id: int
    content: str
    mode: str

    def line(self) -> bytes:
        fields = {"type": INBOX_INJECT, "injection_id": self.injection_id, "content": self.content, "mode": self.mode}
        return orjson.dumps(fields) + b"\n"


async def pending(session: AsyncSession, swarm_ids: list[str]) -> dict[str, list[tuple[str, list[Delivery]]]]:
    """Per swarm, the injections still `accepted`, as (request id, deliveries) in the order accepted."""
    rows = await session.scalars(
        select(InjectionRow)
        .where(InjectionRow.swarm_id.in_(swarm_ids), InjectionRow.status == str(InjectionStatus.ACCEPTED))
        .order_by(InjectionRow.created_at, InjectionRow.node_id)
    )
    requests: dict[str, dict[str, list[Delivery]]] = {}
    for row in rows:
        delivery = Delivery(row.injection_id, row.node_id, row.content, row.mode)
        requests.setdefault(row.swarm_id, {}).setdefault(row.request_id, []).append(delivery)
    return {swarm_id: list(by_request.items()) for swarm_id, by_request in requests.items()}


class InboxDelivery:
    def __init__(self, db: Database, metrics: RouterMetrics) -> None:
        self.db = db
        self.metrics = metrics
        self.locks: dict[str, asyncio.Lock] = {}  # per swarm: its injections reach the inboxes in order

    def forget(self, swarm_id: str) -> None:
        self.locks.pop(swarm_id, None)

    async def deliver(self, swarm: SwarmRow, provider: Provider, request_id: str, deliveries: list[Delivery]) -> None:
        assert swarm.job_id is not None
        accepted = time.monotonic()
        async with self.locks.setdefault(swarm.swarm_id, asyncio.Lock()):
            outcomes: list[tuple[Delivery, str | None]] = []
            for delivery in deliveries:
                try:
                    await provider.deliver(swarm.job_id, delivery.node_id, delivery.line())
                    outcomes.append((delivery, None))
                except Exception as exc:
                    outcomes.append((delivery, f"could not write to node {delivery.node_id}'s inbox: {exc}"))
            await self._record(swarm, request_id, outcomes)
        self.metrics.inject_delivery.labels(swarm.provider).observe(time.monotonic() - accepted)

    async def refuse(self, swarm: SwarmRow, request_id: str, deliveries: list[Delivery], reason: str) -> None:
        """Give injections that will not be written their outcome: failed, with the reason."""
        await self._record(swarm, request_id, [(delivery, reason) for delivery in deliveries])

    async def _record(self, swarm: SwarmRow, request_id: str, outcomes: list[tuple[Delivery, str | None]]) -> None:
        retry_s = OUTCOME_RETRY_MIN_S
        while True:
            try:
                async with self.db.transaction() as session:
                    at = now()
                    await session.execute(  # one executemany by primary key
                        update(InjectionRow),
                        [
                            {
                                "injection_id": delivery.injection_id,
                                "status": str(InjectionStatus.FAILED if error else InjectionStatus.DELIVERED),
                                "reason": error,
                                "delivered_at": None if error else at,
                            }
                            for delivery, error in outcomes
                        ],
                    )
                    for delivery, error in outcomes:
                        emit(
                            session,
                            swarm,
                            EventName.INJECT_FAILED if error else EventName.INJECT_DELIVERED,
                            request_id=request_id,
                            injection_id=delivery.injection_id,
                            node_id=delivery.node_id,
                            **({"reason": error} if error else {}),
                        )
                return
            except Exception:
                log.exception("recording the outcome of request %s failed; retrying in %.1f s", request_id, retry_s)
                await asyncio.sleep(retry_s)
                retry_s = min(2 * retry_s, OUTCOME_RETRY_MAX_S)
