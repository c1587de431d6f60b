"""Time-driven lifecycle work: node staleness, batched probes, launch timeouts, the removal TTL and the
retention of removed swarms' files (router/retention.py).

A probe is weak signal: an error or an inconclusive answer only sets health to `unknown`; only a
confirmed end (the backend's record, or the nodes' own exit records) ends a swarm.  What each probe
report, the launch timeout and the TTL mean is decided in router/lifecycle.py; this module applies it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import update

from router.authority import Authority, LifecycleParts
from router.ingest import lock_order, node_status_event
from router.ingest_nodes import mark_stale, stale_nodes
from router.lifecycle import Decision, on_pending_timeout, on_probe_report, on_ttl, set_health, set_reason, transition
from router.metrics import TIMED_OUT, RouterMetrics
from router.retention import Retention, cursors_of
from router.store.outbox import add_event
from router.store.swarms import get_swarm, now, swarms_in
from router.store.tables import NodeRow
from services.bus.base import EventBus
from services.protocol import Health, SwarmStatus

log = logging.getLogger(__name__)
S = SwarmStatus


@dataclass(eq=False)
class Supervisor(LifecycleParts):
    bus: EventBus
    authority: Authority
    retention: Retention
    metrics: RouterMetrics

    def __post_init__(self) -> None:
        self._next_probe = 0.0

    async def run(self) -> None:
        tick = min(self.settings.heartbeat_interval_s, self.settings.probe_interval_s, 1.0)
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("supervisor tick failed")
            await asyncio.sleep(tick)

    async def tick(self) -> None:
        await self.mark_stale_nodes()
        if time.monotonic() >= self._next_probe:
            self._next_probe = time.monotonic() + self.settings.probe_interval_s
            await self.probe()
        await self.expire_pending()
        await self.remove_expired()
        self.retention.sweep_when_due()

    async def mark_stale_nodes(self) -> None:
        limit = time.time() - self.settings.stale_after_missed * self.settings.heartbeat_interval_s
        stale = stale_nodes(self.ingest.nodes.values(), limit)
        if not stale:
            return
        async with self.db.transaction() as session:
            for node in sorted(stale, key=lock_order):
                mark_stale(node)
                await session.execute(
                    update(NodeRow)
                    .where(NodeRow.swarm_id == node.swarm_id, NodeRow.node_id == node.node_id)
                    .values(status=str(node.status))
                )
                add_event(session, node_status_event(node))

    async def probe(self) -> None:
        """One batched probe per provider for all of its live jobs."""
        async with self.db.transaction() as session:
            live = await swarms_in(session, [S.PENDING, S.RUNNING, S.TERMINATING])
        by_provider = defaultdict(list)
        for swarm in live:
            if swarm.job_id is not None:
                by_provider[swarm.provider].append(swarm)
        for provider_id, swarms in by_provider.items():
            provider = self.providers.get(provider_id)
            if provider is None:  # not configured: health says so since start-up; its jobs are left alone
                continue
            no_answer = f"probe of {provider_id} gave no report"
            started = time.monotonic()
            try:
                reports = await provider.probe([s.job_id for s in swarms if s.job_id])
            except Exception as exc:
                no_answer = f"probe of {provider_id} failed: {type(exc).__name__}: {exc}"
                log.warning("%s", no_answer)
                self.metrics.probe_failures.labels(provider.config.cluster).inc()
                reports = {}
            self.metrics.probe_seconds.labels(provider.config.cluster).observe(time.monotonic() - started)
            for swarm in swarms:
                assert swarm.job_id is not None
                verdict = on_probe_report(swarm.status, swarm.reason, reports.get(swarm.job_id), no_answer)
                await self._set_health(swarm.swarm_id, verdict.health, verdict.health_reason)
                if verdict.ended is not None:
                    await provider.drain(swarm.job_id)
                    await self.authority.end_swarm(swarm.swarm_id, verdict.ended)
                elif verdict.change is not None:
                    await self._transition(swarm.swarm_id, S(swarm.status), verdict.change)
                elif verdict.pending_reason is not None:
                    await self._pending_reason(swarm.swarm_id, verdict.pending_reason)

    async def _set_health(self, swarm_id: str, health: Health, reason: str | None) -> None:
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id)
            if swarm is not None:
                set_health(session, swarm, health, reason)

    async def _transition(self, swarm_id: str, source: S, decision: Decision) -> None:
        """Apply a decision made on the swarm's status source, if it still has that status."""
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            if swarm is not None and swarm.status == source:
                transition(session, swarm, decision.target, decision.reason)

    async def _pending_reason(self, swarm_id: str, reason: str) -> None:
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            if swarm is not None and swarm.status == S.PENDING:
                set_reason(session, swarm, reason)

    async def expire_pending(self) -> None:
        """Cancel the jobs of launches pending past the launch timeout; each swarm then fails, saying so."""
        moment, timeout_s = now(), self.settings.launch_timeout_s
        async with self.db.transaction() as session:
            pending = await swarms_in(session, [S.PENDING])
        for swarm in pending:
            end = on_pending_timeout(swarm.status, swarm.reason, swarm.created_at, moment, timeout_s)
            if end is None:
                continue
            assert swarm.job_id is not None
            provider = self.providers.get(swarm.provider)
            if provider is None:
                continue
            try:
                await provider.terminate(swarm.job_id)
            except Exception as exc:
                log.warning("cancelling %s after the launch timeout failed: %s; will retry", swarm.swarm_id, exc)
                continue
            self.metrics.rejected(swarm.provider, TIMED_OUT)
            await self.authority.end_swarm(swarm.swarm_id, end)

    async def remove_expired(self) -> None:
        moment, ttl_s = now(), self.settings.terminated_ttl_s
        async with self.db.transaction() as session:
            expired = []
            for swarm in await swarms_in(session, [S.TERMINATED, S.FAILED]):
                removal = on_ttl(swarm.status, swarm.terminated_at, moment, ttl_s)
                if removal is not None:
                    transition(session, swarm, removal.target, removal.reason)
                    expired.append(swarm)
        for swarm in expired:
            self.authority.forget(swarm)
            await self.bus.forget_cursors(cursors_of(swarm))
