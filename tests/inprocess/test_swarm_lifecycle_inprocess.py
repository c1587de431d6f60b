"""The router's lifecycle branches, in this process: the router's own start-up on SQLite and the memory
bus, a FakeProvider for the backend (tests/support/inprocess_router.py).  Each runs in well under a second."""

from __future__ import annotations

import asyncio
from pathlib import Path

from router.providers.base import JobReport, JobState
from services.bus.memory_bus import MemoryEventBus
from services.protocol.events import EventName
from tests.support.fake_provider import FakeBackend
from tests.support.inprocess_router import inprocess_router, start_inprocess


async def test_launch_rejected_after_acceptance(tmp_path: Path) -> None:
    async with inprocess_router(tmp_path) as router:
        router.provider.script.reject = "sbatch: error: invalid partition"
        swarm_id = await router.launch()
        swarm = await router.wait_status(swarm_id, "rejected")
        assert swarm.reason is not None and "invalid partition" in swarm.reason
        rejected = await router.wait_event(swarm_id, EventName.COMMAND_REJECTED)
        assert "invalid partition" in str(rejected["data"])
        assert router.provider.backend.started == []


async def test_terminate_while_launching(tmp_path: Path) -> None:
    async with inprocess_router(tmp_path) as router:
        router.provider.script.hold_before_start = asyncio.Event()
        swarm_id = await router.launch()
        await asyncio.wait_for(router.provider.script.entered.wait(), 5)
        await router.terminate(swarm_id)
        swarm = await router.wait_status(swarm_id, "terminated")
        assert swarm.reason == "terminated by user"
        await router.wait_event(swarm_id, EventName.SWARM_TERMINATED)
        assert router.provider.backend.started == []
        assert EventName.SWARM_LAUNCHED not in await router.event_names(swarm_id)


async def test_probe_unknown_then_ended(tmp_path: Path) -> None:
    async with inprocess_router(tmp_path) as router:
        swarm_id = await router.launch()
        job_id = await router.wait_job(swarm_id)
        await router.wait_status(swarm_id, "running")
        router.provider.backend.reports[job_id] = JobReport(JobState.UNKNOWN, reason="squeue timed out")
        await router.core.supervisor.probe()
        swarm = await router.swarm(swarm_id)
        assert (swarm.status, swarm.health) == ("running", "unknown")  # a weak signal never ends a swarm
        router.provider.backend.reports[job_id] = JobReport(JobState.ENDED, reason="TIMEOUT", failed=True)
        await router.core.supervisor.probe()
        swarm = await router.wait_status(swarm_id, "failed")
        assert swarm.reason is not None and "TIMEOUT" in swarm.reason
        await router.wait_event(swarm_id, EventName.SWARM_STATUS, status="failed")


async def _every_node_exits(tmp_path: Path, codes: list[int | None]) -> tuple[str, str | None, list[str]]:
    async with inprocess_router(tmp_path) as router:
        swarm_id = await router.launch(nodes=len(codes))
        job_id = await router.wait_job(swarm_id)
        await router.wait_status(swarm_id, "running")
        for node_id in range(len(codes)):
            await router.provider.hello(job_id, node_id)
        for node_id, code in enumerate(codes):
            await router.provider.exit(job_id, node_id, code)
        swarm = await router.wait_status(swarm_id, "terminated", "failed")
        await router.wait_event(swarm_id, EventName.SWARM_STATUS, status=swarm.status)
        exited = [n.status for n in await router.nodes(swarm_id)]
        assert exited == ["exited"] * len(codes)
        return swarm.status, swarm.reason, await router.event_names(swarm_id)


async def test_every_node_exited_with_codes(tmp_path: Path) -> None:
    status, reason, names = await _every_node_exits(tmp_path, [0, 3])
    assert status == "failed", reason
    assert reason is not None and "3" in reason
    assert EventName.NODE_STATUS in names


async def test_every_node_exited_cleanly(tmp_path: Path) -> None:
    status, reason, _ = await _every_node_exits(tmp_path, [0, 0])
    assert status == "terminated", reason


async def test_every_node_exited_without_codes(tmp_path: Path) -> None:
    status, reason, _ = await _every_node_exits(tmp_path, [None, None])
    assert status in ("terminated", "failed"), reason
    assert reason


async def test_restart_mid_launch_never_launches_twice(tmp_path: Path) -> None:
    backend, bus = FakeBackend(), MemoryEventBus()
    first = await start_inprocess(tmp_path, backend, bus)
    first.provider.script.hold_after_start = asyncio.Event()  # the job starts; its id never comes back
    swarm_id = await first.launch()
    await asyncio.wait_for(first.provider.script.entered.wait(), 5)
    await first.core.stop()
    second = await start_inprocess(tmp_path, backend, bus)
    try:
        swarm = await second.wait_status(swarm_id, "running")
        assert swarm.job_id == backend.started[0]
        assert backend.started == [swarm.job_id]  # resumed: the job already started, never a second one
        await second.wait_event(swarm_id, EventName.SWARM_LAUNCHED)
        assert (await second.event_names(swarm_id)).count(EventName.SWARM_LAUNCHED) == 1
        assert second.provider.following(swarm.job_id)
    finally:
        await second.core.stop()
        await bus.close()
