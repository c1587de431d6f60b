"""A failure in a launch's bookkeeping after the job started (here: Redis gone just then) never strands
the job: the swarm ends failed with the reason, and the job it started is cancelled."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from router.providers.local.processes import is_node_process
from router.providers.local.provider import local_job_id
from tests.support.router_process import BusReader, RouterProcess, wait_swarm
from tests.support.tcp_proxy import tcp_proxy


async def test_a_failure_after_the_job_started_fails_the_swarm_and_cancels_its_job(
    start_router: Callable[..., RouterProcess], bus: BusReader, redis_url: str
) -> None:
    redis = urlsplit(redis_url)
    assert redis.hostname and redis.port
    with tcp_proxy(redis.hostname, redis.port) as proxy:
        router = start_router(CODESWARM_REDIS_URL=redis._replace(netloc=f"127.0.0.1:{proxy.port}").geturl())
        async with router.client() as client:
            proxy.cut()  # the launch's job starts, then following it needs the bus: it is not there
            launched = await client.post("/v1/swarms", json={"nodes": 2, "runtime": "mock"})
            assert launched.status_code == 202, launched.text
            swarm_id = launched.json()["swarm_id"]
            job_id = local_job_id(swarm_id)
            failed = await wait_swarm(client, swarm_id, lambda s: s.get("status") == "failed", 60)
            assert failed["reason"].startswith(f"launch failed after job {job_id} started on local: ")
            assert failed["reason"].endswith(f"; job {job_id} cancelled"), failed["reason"]
            control = router.home / "local" / "runs" / job_id / "control"
            pids = [int(p.read_text()) for p in sorted(control.glob("node_*.pid"))]
            assert len(pids) == 2 and not any(is_node_process(pid, job_id) for pid in pids), "no node left running"
            proxy.open()  # the events were kept in the database's outbox: they arrive once Redis is back
            await bus.wait_for(lambda: bool(bus.events("command_rejected", swarm_id=swarm_id)), 30, "the rejection")
            (rejected,) = bus.events("command_rejected", swarm_id=swarm_id)
            assert rejected["command"] == "launch" and rejected["reason"] == failed["reason"]
