"""Reliability: a router killed with -9 comes back from Postgres and loses or repeats nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from router.providers.local.processes import is_node_process
from router.translate import translate_record
from services.node.records import outbox_path
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until_async


def outbox_records(router: RouterProcess, job_id: str, node_id: int) -> list[dict]:
    path = Path(outbox_path(str(router.home / "local"), job_id, node_id))
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def pids_of(router: RouterProcess, job_id: str) -> list[int]:
    control = router.home / "local" / "runs" / job_id / "control"
    return [int(p.read_text()) for p in sorted(control.glob("node_*.pid"))]


async def test_kill_9_while_four_nodes_stream(start_router: Callable[..., RouterProcess], bus: BusReader) -> None:
    router = start_router()
    async with router.client() as client:
        launched = await client.post("/v1/swarms", json={"nodes": 4, "runtime_params": {"tokens": 400, "delay_ms": 8}})
        swarm_id = launched.json()["swarm_id"]
        before = await wait_swarm(client, swarm_id, all_idle, 20)
        job_id = before["job_id"]
        await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "stream for a while"})
        await bus.wait_for(lambda: len(bus.events("assistant_delta", swarm_id=swarm_id)) >= 20, 20, "streaming")
    pids = pids_of(router, job_id)

    router.kill()
    sizes = {n: len(outbox_records(router, job_id, n)) for n in range(4)}
    await wait_until_async(
        lambda: all(len(outbox_records(router, job_id, n)) > sizes[n] for n in range(4)),
        10,
        "nodes keep writing while the router is down",
    )
    restarted = start_router()
    async with restarted.client() as client:
        await bus.wait_for(lambda: len(bus.events("turn_complete", swarm_id=swarm_id)) == 4, 40, "all four turns done")
        after = (await client.get(f"/v1/swarms/{swarm_id}")).json()
    assert after["job_id"] == job_id and after["status"] == "running"
    assert all(is_node_process(pid, job_id) for pid in pids), "the nodes never stopped"

    for node_id in range(4):
        expected = [r["seq"] for r in outbox_records(restarted, job_id, node_id) if translate_record(r)]
        delivered = [e["seq"] for e in bus.events(None, swarm_id=swarm_id, node_id=node_id) if "seq" in e]
        assert delivered == expected, f"node {node_id}: every record on the bus exactly once, in order"
        text = "".join(e["delta"] for e in bus.events("assistant_delta", swarm_id=swarm_id, node_id=node_id))
        assert text == "echo: stream for a while"
