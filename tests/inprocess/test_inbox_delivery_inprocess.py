"""Every accepted injection gets its outcome (router/inbox_delivery.py), in this process with a FakeProvider:
one the router stopped before delivering is delivered by the next start, once, in the order accepted, or
fails, saying why, when its swarm no longer takes injections."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import update

from router.store.tables import InjectionRow, SwarmRow
from services.bus.memory_bus import MemoryEventBus
from services.protocol import InjectRequest
from services.protocol.events import EventName
from tests.support.fake_provider import FakeBackend
from tests.support.inprocess_router import start_inprocess


async def test_injections_accepted_before_a_stop_are_delivered_by_the_next_start(tmp_path: Path) -> None:
    backend, bus = FakeBackend(), MemoryEventBus()
    first = await start_inprocess(tmp_path, backend, bus)
    swarm_id = await first.launch(nodes=2)
    job_id = await first.wait_job(swarm_id)
    await first.wait_status(swarm_id, "running")
    first.provider.deliveries_held = asyncio.Event()  # the router stops before any inbox is written
    requests = [
        await first.core.authority.inject(swarm_id, InjectRequest(nodes="all", content=f"prompt {n}")) for n in range(2)
    ]
    await first.core.stop()
    assert backend.inboxes == {}
    second = await start_inprocess(tmp_path, backend, bus)
    try:
        for accepted in requests:
            for ref in accepted.injections:
                await second.wait_event(swarm_id, EventName.INJECT_DELIVERED, injection_id=ref.injection_id)
        for node_id in (0, 1):
            inbox = backend.inbox(job_id, node_id)
            assert [line["content"] for line in inbox] == ["prompt 0", "prompt 1"]  # once each, in order
        async with second.core.db.transaction() as session:
            rows = [await session.get(InjectionRow, ref.injection_id) for a in requests for ref in a.injections]
        assert [row.status for row in rows if row is not None] == ["delivered"] * 4
    finally:
        await second.core.stop()
        await bus.close()


async def test_injections_left_accepted_in_a_terminating_swarm_fail_saying_why(tmp_path: Path) -> None:
    backend, bus = FakeBackend(), MemoryEventBus()
    first = await start_inprocess(tmp_path, backend, bus)
    swarm_id = await first.launch(nodes=1)
    await first.wait_status(swarm_id, "running")
    first.provider.deliveries_held = asyncio.Event()
    accepted = await first.core.authority.inject(swarm_id, InjectRequest(nodes="all", content="too late"))
    await first.core.stop()
    async with first.core.db.transaction() as session:  # stopped while its terminate was under way
        await session.execute(update(SwarmRow).where(SwarmRow.swarm_id == swarm_id).values(status="terminating"))
    second = await start_inprocess(tmp_path, backend, bus)
    try:
        [ref] = accepted.injections
        failed = await second.wait_event(swarm_id, EventName.INJECT_FAILED, injection_id=ref.injection_id)
        assert "terminating" in failed["data"]["reason"]
        assert backend.inboxes == {}
        async with second.core.db.transaction() as session:
            row = await session.get(InjectionRow, ref.injection_id)
        assert row is not None and row.status == "failed"
    finally:
        await second.core.stop()
        await bus.close()
