"""Two clusters that both hand out job 1: a job is identified by (cluster, job id) everywhere — in the
database, in ingestion, in the bus cursors — across a router restart, through terminate."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.slurm.conftest import SlurmLab, fresh_lab
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm

if TYPE_CHECKING:
    from tests.slurm.conftest import SlurmRouterKit

CLUSTERS = ("alpha", "beta")


@pytest.fixture
def two_fresh_clusters() -> Iterator[dict[str, SlurmLab]]:
    with fresh_lab() as alpha, fresh_lab() as beta:
        yield {"alpha": alpha, "beta": beta}


def answers(bus: BusReader, swarm_id: str) -> list[str]:
    return [e["text"] for e in bus.events("assistant", swarm_id=swarm_id)]


def answered(bus: BusReader, swarm_id: str, count: int) -> Callable[[], bool]:
    return lambda: len(answers(bus, swarm_id)) == count


async def test_two_clusters_both_at_job_1_keep_their_swarms_apart(
    slurm_kit: SlurmRouterKit,
    two_fresh_clusters: dict[str, SlurmLab],
    start_router: Callable[..., RouterProcess],
    bus: BusReader,
) -> None:
    entries = [
        slurm_kit.entry(lab, name, f"{slurm_kit.remote_base}/{name}") for name, lab in two_fresh_clusters.items()
    ]
    router = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.write_providers(entries))
    swarms: dict[str, str] = {}
    try:
        async with router.client() as client:
            for name in CLUSTERS:
                response = await client.post("/v1/swarms", json={"provider": name, "nodes": 2, "runtime": "mock"})
                assert response.status_code == 202, response.text
                swarms[name] = response.json()["swarm_id"]
                swarm = await wait_swarm(client, swarms[name], all_idle, 60)
                assert swarm["job_id"] == "1" and swarm["cluster"] == name, swarm
            for name in CLUSTERS:
                await client.post(f"/v1/swarms/{swarms[name]}/inject", json={"nodes": "all", "content": f"hi {name}"})
            for name in CLUSTERS:
                await bus.wait_for(answered(bus, swarms[name], 2), 30, f"{name}'s two answers")
                assert answers(bus, swarms[name]) == [f"echo: hi {name}"] * 2

        router.kill()  # both come back from the database, each to its own cluster's job 1
        restarted = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.write_providers(entries))
        async with restarted.client() as client:
            for name in CLUSTERS:
                await client.post(f"/v1/swarms/{swarms[name]}/inject", json={"nodes": 0, "content": f"again {name}"})
            for name in CLUSTERS:
                await bus.wait_for(answered(bus, swarms[name], 3), 30, f"{name}'s third answer")
                assert answers(bus, swarms[name])[2] == f"echo: again {name}"
            for name in CLUSTERS:
                terminated = await client.post(f"/v1/swarms/{swarms[name]}/terminate", json={})
                assert terminated.status_code == 202
            for name in CLUSTERS:
                swarm = await wait_swarm(client, swarms[name], lambda s: s.get("status") == "terminated", 60)
                assert swarm["job_id"] == "1" and swarm["reason"] == "terminated by user"
    finally:
        for lab in two_fresh_clusters.values():
            lab.ssh_run(f"scancel --me; rm -rf {shlex.quote(slurm_kit.remote_base)}")
    for name, lab in two_fresh_clusters.items():
        jobs = lab.squeue_all()
        assert [(job_id, state) for job_id, _, state in jobs] == [("1", "CANCELLED")], (name, jobs)
