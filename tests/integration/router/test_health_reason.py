"""Health has its own reason: a health change leaves the lifecycle reason alone, in the router's view,
in its swarm_status event and in the mirror's read model — so the mirror, reconciling, finds nothing
to correct (before, the health reason overwrote the lifecycle one and every reconcile 'corrected' it)."""

from __future__ import annotations

from collections.abc import Callable

from mirror.items import entry_key
from mirror.readmodel import ReadModel
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm


async def test_a_health_change_has_its_own_reason_and_the_mirror_agrees(
    start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router()
    async with router.client() as client:
        swarm_id = (await client.post("/v1/swarms", json={"nodes": 1})).json()["swarm_id"]
        job_id = (await wait_swarm(client, swarm_id, all_idle, 20))["job_id"]
        control = router.home / "local" / "runs" / job_id / "control"
        pid_file = control / "node_00.pid"
        hidden = pid_file.rename(control / "node_00.hidden")  # the probe can no longer see the node
        try:
            unknown = await wait_swarm(client, swarm_id, lambda s: s.get("health") == "unknown", 10)
            assert unknown["status"] == "running" and unknown["reason"] is None, unknown
            assert unknown["health_reason"] == f"no pid files under {control}"

            def changed() -> list[dict[str, object]]:
                return [e for e in bus.events("swarm_status", swarm_id=swarm_id) if e.get("health") == "unknown"]

            await bus.wait_for(lambda: bool(changed()), 10, "the health change on the bus")
            (change,) = changed()
            assert change["reason"] is None and change["health_reason"] == unknown["health_reason"]

            model = ReadModel()  # the mirror's read model, fed the whole stream, then reconciled
            for entry_id, envelope in bus.entries:
                model.apply(envelope["event"], envelope, entry_key(entry_id))
            listed = (await client.get("/v1/swarms")).json()["swarms"]
            assert model.swarms[swarm_id]["health_reason"] == unknown["health_reason"]
            outcome = model.reconcile(listed, entry_key(bus.entries[-1][0]))
            assert outcome.changed == [], "nothing for the mirror to correct"
        finally:
            hidden.rename(pid_file)
        await wait_swarm(client, swarm_id, lambda s: s.get("health") == "ok" and s["health_reason"] is None, 10)
