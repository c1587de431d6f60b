"""Wires the router's parts together and runs their background work."""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass, field

from router.authority import Authority
from router.inbox_delivery import InboxDelivery
from router.ingest import Ingest
from router.metrics import RouterMetrics
from router.providers.base import Provider
from router.providers.registry import load_pricing, load_providers
from router.relay import OutboxRelay
from router.retention import Retention
from router.store.database import Database
from router.store.migrate import upgrade
from router.supervisor import Supervisor
from router.transcript import Transcript
from services.bus.base import EventBus
from services.bus.factory import make_bus
from services.node.private_files import keep_files_private
from services.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class RouterCore:
    settings: Settings
    db: Database
    bus: EventBus
    providers: dict[str, Provider]
    ingest: Ingest
    authority: Authority
    relay: OutboxRelay
    supervisor: Supervisor
    owns_bus: bool
    metrics: RouterMetrics
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        for task in [*self.tasks, *self.authority.tasks]:
            task.cancel()
        await asyncio.gather(*self.tasks, *self.authority.tasks, return_exceptions=True)
        for provider in self.providers.values():
            await provider.stop()
        await self.ingest.close()
        await self.relay.relay_pending()
        if self.owns_bus:
            await self.bus.close()
        await self.db.close()


async def start_router(
    settings: Settings, bus: EventBus | None = None, providers: dict[str, Provider] | None = None
) -> RouterCore:
    """The router's parts, built and started; ``bus`` and ``providers`` default to the settings' own."""
    keep_files_private()
    settings.home.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    await upgrade(url)
    metrics = RouterMetrics(settings.metrics)
    db = Database(url, metrics)
    owns_bus = bus is None
    bus = bus if bus is not None else make_bus(settings)
    providers = providers if providers is not None else load_providers(settings)
    transcript = Transcript(settings.command_output_cap)
    relay = OutboxRelay(db, bus, metrics=metrics)
    db.on_events_committed = relay.committed
    ingest = Ingest(db, bus, transcript, load_pricing(settings), metrics)
    authority = Authority(settings, db, providers, ingest, transcript, InboxDelivery(db, metrics), metrics)
    ingest.on_exit_records = authority.on_exit_records  # the one hook left: the authority is built on ingest
    retention = Retention(settings, db, providers, bus, authority.spawn)
    supervisor = Supervisor(settings, db, providers, ingest, bus, authority, retention, metrics)
    core = RouterCore(settings, db, bus, providers, ingest, authority, relay, supervisor, owns_bus, metrics)
    metrics.watch(core)
    await relay.relay_pending()
    for provider in providers.values():
        await provider.start(ingest.sink(provider.config.cluster))
    await authority.recover()
    # What start-up built lives as long as the process: out of the collector's way, or every full
    # collection walks it again while records flow (bench/bench_ingest.py: a fifth of ingest's CPU).
    gc.freeze()
    core.tasks += [
        asyncio.create_task(relay.run(), name="outbox-relay"),
        asyncio.create_task(supervisor.run(), name="supervisor"),
    ]
    return core
