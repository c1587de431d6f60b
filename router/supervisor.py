"""Time-driven lifecycle work: node staleness, batched probes, launch timeouts, the removal TTL and the
retention of removed swarms' files (router/retention.py).

A probe is weak signal: an error or an inconclusive answer only sets health to `unknown`; only a
confirmed end (the backend's record, or the nodes' own exit records) ends a swarm.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import update

from router.authority import Authority
from router.ingest import lock_order, node_status_event
from router.lifecycle import set_health, set_reason, transition
from router.metrics import TIMED_OUT
from router.providers.base import JobState
from router.retention import Retention, cursors_of
from router.store.outbox import add_event
from router.store.swarms import aware, get_swarm, now, swarms_in
from router.store.tables import NodeRow
from services.protocol import Health, NodeStatus, SwarmStatus

log = logging.getLogger(__name__)
S = SwarmStatus


class Supervisor:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self.settings = authority.settings
        self.db = authority.db
        self._next_probe = 0.0
        self.retention = Retention(authority)

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
        stale = [
            node
            for node in self.authority.ingest.nodes.values()
            if not node.stale
            and node.activity in (NodeStatus.IDLE, NodeStatus.BUSY)
            and node.last_seen is not None
            and node.last_seen < limit
        ]
        if not stale:
            return
        async with self.db.transaction() as session:
            for node in sorted(stale, key=lock_order):
                node.stale = True
                await session.execute(
                    update(NodeRow)
                    .where(NodeRow.swarm_id == node.swarm_id, NodeRow.node_id == node.node_id)
                    .values(status=str(NodeStatus.STALE))
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
            provider = self.authority.providers.get(provider_id)
            if provider is None:  # not configured: health says so since start-up; its jobs are left alone
                continue
            no_answer = f"probe of {provider_id} gave no report"
            started = time.monotonic()
            try:
                reports = await provider.probe([s.job_id for s in swarms if s.job_id])
            except Exception as exc:
                no_answer = f"probe of {provider_id} failed: {type(exc).__name__}: {exc}"
                log.warning("%s", no_answer)
                self.authority.metrics.probe_failures.labels(provider.config.cluster).inc()
                reports = {}
            self.authority.metrics.probe_seconds.labels(provider.config.cluster).observe(time.monotonic() - started)
            for swarm in swarms:
                assert swarm.job_id is not None
                report = reports.get(swarm.job_id)
                if report is None or report.state is JobState.UNKNOWN:
                    await self._set_health(swarm.swarm_id, Health.UNKNOWN, report.reason if report else no_answer)
                    continue
                await self._set_health(swarm.swarm_id, Health.OK, None)
                if report.state is JobState.ENDED:
                    await provider.drain(swarm.job_id)
                    await self.authority.end_swarm(swarm.swarm_id, report.failed, report.reason or "job ended")
                elif report.state is JobState.RUNNING and swarm.status == S.PENDING:
                    await self._transition(swarm.swarm_id, S.PENDING, S.RUNNING, None)
                elif report.state is JobState.PENDING and report.reason and report.reason != swarm.reason:
                    await self._pending_reason(swarm.swarm_id, report.reason)

    async def _set_health(self, swarm_id: str, health: Health, reason: str | None) -> None:
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id)
            if swarm is not None:
                set_health(session, swarm, health, reason)

    async def _transition(self, swarm_id: str, source: S, target: S, reason: str | None) -> None:
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            if swarm is not None and swarm.status == source:
                transition(session, swarm, target, reason)

    async def _pending_reason(self, swarm_id: str, reason: str) -> None:
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            if swarm is not None and swarm.status == S.PENDING:
                set_reason(session, swarm, reason)

    async def expire_pending(self) -> None:
        """A launch still pending past its hard timeout is cancelled and fails: nothing stays queued."""
        deadline = now() - timedelta(seconds=self.settings.launch_timeout_s)
        async with self.db.transaction() as session:
            pending = [s for s in await swarms_in(session, [S.PENDING]) if aware(s.created_at) < deadline]
        for swarm in pending:
            assert swarm.job_id is not None
            provider = self.authority.providers.get(swarm.provider)
            if provider is None:
                continue
            try:
                await provider.terminate(swarm.job_id, swarm.node_count)
            except Exception as exc:
                log.warning("cancelling %s after the launch timeout failed: %s; will retry", swarm.swarm_id, exc)
                continue
            self.authority.metrics.rejected(swarm.provider, TIMED_OUT)
            await self.authority.end_swarm(
                swarm.swarm_id,
                failed=True,
                reason=f"still pending after the launch timeout of {self.settings.launch_timeout_s:g}s "
                f"({swarm.reason or 'no reason given'}); cancelled",
            )

    async def remove_expired(self) -> None:
        deadline = now() - timedelta(seconds=self.settings.terminated_ttl_s)
        async with self.db.transaction() as session:
            ended = await swarms_in(session, [S.TERMINATED, S.FAILED])
            expired = [s for s in ended if s.terminated_at is not None and aware(s.terminated_at) <= deadline]
            for swarm in expired:
                transition(session, swarm, S.REMOVED)
        for swarm in expired:
            self.authority.forget(swarm)
            await self.authority.ingest.bus.forget_cursors(cursors_of(swarm))
