"""Health is a signal, not a death: stale nodes, failed probes, and swarms that end on their own."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm


def pids_of(router: RouterProcess, job_id: str) -> list[int]:
    control = router.home / "local" / "runs" / job_id / "control"
    return [int(p.read_text()) for p in sorted(control.glob("node_*.pid"))]


async def test_a_silent_node_goes_stale_and_comes_back(
    start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router()  # heartbeats every 0.5 s: stale after 3 missed
    async with router.client() as client:
        swarm_id = (await client.post("/v1/swarms", json={"nodes": 2})).json()["swarm_id"]
        swarm = await wait_swarm(client, swarm_id, all_idle, 20)
        frozen = pids_of(router, swarm["job_id"])[1]
        os.kill(frozen, signal.SIGSTOP)
        try:
            await wait_swarm(client, swarm_id, lambda s: s["nodes"][1]["status"] == "stale", 10)
            still = (await client.get(f"/v1/swarms/{swarm_id}")).json()
            assert still["status"] == "running" and still["nodes"][0]["status"] == "idle"
        finally:
            os.kill(frozen, signal.SIGCONT)
        await wait_swarm(client, swarm_id, all_idle, 10)
        await bus.wait_for(
            lambda: bool(bus.events("node_status", swarm_id=swarm_id, node_id=1, status="stale")), 5, "stale event"
        )


async def test_a_probe_that_cannot_see_the_job_only_makes_health_unknown(
    start_router: Callable[..., RouterProcess],
) -> None:
    router = start_router()  # probes every second
    async with router.client() as client:
        swarm_id = (await client.post("/v1/swarms", json={"nodes": 1})).json()["swarm_id"]
        swarm = await wait_swarm(client, swarm_id, all_idle, 20)
        control = router.home / "local" / "runs" / swarm["job_id"] / "control"
        hidden = control.with_name("control.hidden")
        control.rename(hidden)
        try:
            blind = await wait_swarm(client, swarm_id, lambda s: s["health"] == "unknown", 10)
            assert blind["status"] == "running"
        finally:
            hidden.rename(control)
        back = await wait_swarm(client, swarm_id, lambda s: s["health"] == "ok", 10)
        assert back["status"] == "running"


async def test_a_swarm_whose_nodes_all_exit_ends_with_a_reason(
    start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router()
    async with router.client() as client:
        calm = (await client.post("/v1/swarms", json={"nodes": 2})).json()["swarm_id"]
        killed = (await client.post("/v1/swarms", json={"nodes": 2})).json()["swarm_id"]
        calm_job = (await wait_swarm(client, calm, all_idle, 20))["job_id"]
        killed_job = (await wait_swarm(client, killed, all_idle, 20))["job_id"]
        for pid in pids_of(router, calm_job):
            os.kill(pid, signal.SIGTERM)  # each node writes its exit record
        for pid in pids_of(router, killed_job):
            os.kill(pid, signal.SIGKILL)  # no exit record: only the OS can tell
        ended = await wait_swarm(client, calm, lambda s: s["status"] == "terminated", 15)
        assert ended["reason"] == "every node program exited"
        assert [n["status"] for n in ended["nodes"]] == ["exited", "exited"]
        failed = await wait_swarm(client, killed, lambda s: s["status"] == "failed", 15)
        assert "gone" in failed["reason"]
        await bus.wait_for(lambda: bool(bus.events("swarm_terminated", swarm_id=killed)), 5, "terminated event")
