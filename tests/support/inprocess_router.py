"""The router in this process: the router's own start-up (router/core.py) on SQLite in a temp
directory and the memory bus, with a FakeProvider as its only provider.  The one place that knows how
the router is put together for in-process tests: when its constructors change, only this file does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.core import RouterCore, start_router
from router.store.swarms import get_swarm, nodes_of
from router.store.tables import NodeRow, SwarmRow
from services.bus.base import START_ID
from services.bus.memory_bus import MemoryEventBus
from services.protocol.commands import LaunchRequest, TerminateRequest
from services.settings import Settings
from tests.support.fake_provider import FakeBackend, FakeProvider
from tests.support.servers import wait_until_async

WITHIN_S = 5.0  # every wait of an in-process test: a deadline, never a sleep


@dataclass
class InProcessRouter:
    core: RouterCore
    provider: FakeProvider
    bus: MemoryEventBus

    async def launch(self, nodes: int = 2) -> str:
        accepted = await self.core.authority.launch(LaunchRequest(nodes=nodes, provider="fake", runtime="mock"), None)
        return accepted.swarm_id

    async def terminate(self, swarm_id: str) -> None:
        await self.core.authority.terminate(swarm_id, TerminateRequest())

    async def swarm(self, swarm_id: str) -> SwarmRow:
        async with self.core.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id)
        assert swarm is not None, swarm_id
        return swarm

    async def nodes(self, swarm_id: str) -> list[NodeRow]:
        async with self.core.db.transaction() as session:
            return (await nodes_of(session, [swarm_id]))[swarm_id]

    async def wait_status(self, swarm_id: str, *statuses: str) -> SwarmRow:
        async def reached() -> bool:
            return (await self.swarm(swarm_id)).status in statuses

        await wait_until_async(reached, WITHIN_S, f"swarm {swarm_id} {'/'.join(statuses)}")
        return await self.swarm(swarm_id)

    async def wait_job(self, swarm_id: str) -> str:
        async def has_job() -> bool:
            return (await self.swarm(swarm_id)).job_id is not None

        await wait_until_async(has_job, WITHIN_S, f"swarm {swarm_id} has its job")
        job_id = (await self.swarm(swarm_id)).job_id
        assert job_id is not None
        return job_id

    async def events(self, swarm_id: str) -> list[dict[str, Any]]:
        """Every event about this swarm the bus holds (relayed from the outbox table), oldest first."""
        entries = await self.bus.read_after(START_ID, count=100_000)
        envelopes = [entry.envelope() for entry in entries]
        return [e for e in envelopes if e.get("data", {}).get("swarm_id") == swarm_id]

    async def wait_event(self, swarm_id: str, name: str, **data: Any) -> dict[str, Any]:
        """The first event `name` about this swarm whose data has these values, once the bus has it."""

        async def matches() -> list[dict[str, Any]]:
            return [
                e
                for e in await self.events(swarm_id)
                if e["event"] == name and all(e["data"].get(k) == v for k, v in data.items())
            ]

        async def published() -> bool:
            return bool(await matches())

        await wait_until_async(published, WITHIN_S, f"event {name} {data} of {swarm_id}")
        return (await matches())[0]

    async def event_names(self, swarm_id: str) -> list[str]:
        return [e["event"] for e in await self.events(swarm_id)]


def inprocess_settings(home: Path) -> Settings:
    """Probes only when a test calls them (the supervisor's own interval is an hour)."""
    return Settings(home=home, bus="memory", probe_interval_s=3600.0, heartbeat_interval_s=3600.0, metrics=False)


async def start_inprocess(home: Path, backend: FakeBackend, bus: MemoryEventBus) -> InProcessRouter:
    provider = FakeProvider(backend)
    core = await start_router(inprocess_settings(home), bus=bus, providers={provider.config.id: provider})
    return InProcessRouter(core, provider, bus)


@asynccontextmanager
async def inprocess_router(home: Path, backend: FakeBackend | None = None) -> AsyncIterator[InProcessRouter]:
    bus = MemoryEventBus()
    router = await start_inprocess(home, backend or FakeBackend(), bus)
    try:
        yield router
    finally:
        await router.core.stop()
        await bus.close()
