"""The mirror's parts, wired together, with their start-up order and background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

from mirror.hub import Hub
from mirror.items import entry_key
from mirror.ledger import RequestLedger
from mirror.metrics import MirrorMetrics
from mirror.readmodel import ReadModel
from mirror.reconciler import Reconciler
from mirror.router_client import RouterClient
from mirror.snapshot import SnapshotFile, stream_identity
from mirror.stream import StreamOptions
from mirror.subscriber import QueueLimit
from services.bus import make_bus
from services.bus.base import START_ID, EventBus
from services.node.private_files import keep_files_private
from services.settings import Settings

log = logging.getLogger(__name__)

SNAPSHOT_EVERY_S = 5.0
STARTUP_RECONCILE_TIMEOUT_S = 5.0


@dataclass
class MirrorCore:
    settings: Settings
    bus: EventBus
    owns_bus: bool
    model: ReadModel
    ledger: RequestLedger
    hub: Hub
    router: RouterClient
    reconciler: Reconciler
    snapshot: SnapshotFile
    options: StreamOptions
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    task_failure: str | None = None

    @classmethod
    def build(
        cls, settings: Settings, bus: EventBus | None = None, router_transport: httpx.AsyncBaseTransport | None = None
    ) -> MirrorCore:
        model, ledger = ReadModel(), RequestLedger()
        the_bus = bus if bus is not None else make_bus(settings)
        hub = Hub(the_bus, model, ledger)
        hub.metrics = MirrorMetrics(settings.metrics)
        router = RouterClient(settings.effective_router_url, settings.api_token, transport=router_transport)
        snapshot = SnapshotFile(settings.effective_mirror_state_file, stream_identity(settings))
        reconciler = Reconciler(
            router,
            model,
            hub,
            ledger,
            interval_s=settings.reconcile_interval_s,
            after_success=lambda: snapshot.save(model, ledger),
        )
        options = StreamOptions(
            keepalive_s=settings.sse_keepalive_s,
            coalesce_ms=settings.delta_coalesce_ms,
            queue_limit=QueueLimit(settings.sse_client_queue, settings.sse_client_queue_bytes),
            stall_s=settings.sse_client_stall_s,
        )
        core = cls(settings, the_bus, bus is None, model, ledger, hub, router, reconciler, snapshot, options)
        hub.metrics.watch(core)
        return core

    async def start(self) -> None:
        """Snapshot → bus catch-up → first reconcile → background tasks.  Nothing here waits for a
        service that is down: an unreachable bus or router leaves the mirror serving, degraded."""
        keep_files_private()
        if await self.snapshot.load(self.model, self.ledger):
            log.info("snapshot loaded: %d swarms at %s", len(self.model.swarms), self.model.position)
        try:
            newest = await self.bus.last_id()
            if self.model.position_key > entry_key(newest):
                log.warning("the snapshot is ahead of the event stream (reset?); replaying all retained events")
                self.model.advance(START_ID, entry_key(START_ID))
            applied = await self.hub.catch_up()
            log.info("caught up with the event bus: %d entries, position %s", applied, self.model.position)
        except Exception as exc:
            self.hub.error = f"event bus read failed: {exc}"
            log.warning("event bus not readable at start; serving the snapshot: %s", exc)
        try:
            await asyncio.wait_for(self.reconciler.reconcile_once(), STARTUP_RECONCILE_TIMEOUT_S)
        except TimeoutError:
            self.reconciler.problem = "router not reconciled: it did not answer at start-up"
        # What start-up built lives as long as the process: out of the collector's way, every full
        # collection walked it again while events flowed (a third of the hub's time, measured).
        gc.freeze()
        self.tasks = [
            self._spawn(self.hub.run(), "bus reader"),
            self._spawn(self.reconciler.run(), "reconciler"),
            self._spawn(self._keep_snapshot(), "snapshot writer"),
        ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for subscriber in list(self.hub.subscribers):
            subscriber.cut("the mirror is shutting down; reconnect with Last-Event-ID to resume")
        await self.snapshot.save(self.model, self.ledger)
        await self.router.aclose()
        if self.owns_bus:
            await self.bus.close()

    def problems(self) -> list[str]:
        found = [p for p in (self.task_failure, self.hub.error, self.reconciler.problem) if p]
        return found

    async def _keep_snapshot(self) -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_EVERY_S)
            await self.snapshot.save(self.model, self.ledger)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=f"mirror {name}")

        def finished(done: asyncio.Task[None]) -> None:
            if not done.cancelled() and done.exception() is not None:
                self.task_failure = f"the mirror's {name} stopped: {done.exception()!r}"
                log.error("%s", self.task_failure, exc_info=done.exception())

        task.add_done_callback(finished)
        return task
