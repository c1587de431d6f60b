"""Terminate wins over a launch: a launch still retrying stops at once and the swarm ends terminated,
never submitting; a restart never submits for a swarm the user asked to terminate, and cancels the
job it finds by name.  Terminate's events carry the terminate's own request id."""

from __future__ import annotations

import asyncio
import shlex
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from router.store.database import Database
from router.store.swarms import create_nodes, now
from router.store.tables import SwarmRow
from tests.slurm.conftest import SlurmLab, fresh_lab
from tests.support.router_process import BusReader, RouterProcess, wait_swarm

if TYPE_CHECKING:
    from tests.slurm.conftest import SlurmRouterKit


@pytest.fixture
def own_lab() -> Iterator[SlurmLab]:
    """A cluster of this test's own: its login node goes down without disturbing other tests."""
    with fresh_lab() as lab:
        yield lab


def jobs_named(lab: SlurmLab, swarm_id: str) -> list[tuple[str, str, str]]:
    return [row for row in lab.squeue_all() if row[1] == f"codeswarm-{swarm_id}"]


async def test_terminate_stops_a_launch_that_is_retrying(
    slurm_kit: SlurmRouterKit, own_lab: SlurmLab, start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    entry = slurm_kit.entry(own_lab, "lab", slurm_kit.remote_base)
    router = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.write_providers([entry]))
    async with router.client() as client:
        await asyncio.to_thread(own_lab.stop_sshd)
        try:
            swarm_id = (await client.post("/v1/swarms", json={"provider": "lab", "nodes": 1})).json()["swarm_id"]
            await bus.wait_for(
                lambda: bool(bus.events("swarm_launch_progress", swarm_id=swarm_id, phase="retrying")), 20, "retrying"
            )
            answer = await client.post(f"/v1/swarms/{swarm_id}/terminate", json={})
            assert answer.status_code == 202 and answer.json()["status"] == "terminating"
            request_id = answer.json()["request_id"]
            ended = await wait_swarm(client, swarm_id, lambda s: s.get("status") == "terminated", 5)
            assert ended["job_id"] is None and ended["reason"] == "terminated by user"
            again = await client.post(f"/v1/swarms/{swarm_id}/terminate", json={})
            assert again.json() == {"request_id": request_id, "status": "terminated"}
        finally:
            await asyncio.to_thread(own_lab.start_sshd)
        await bus.wait_for(lambda: bool(bus.events("swarm_terminated", swarm_id=swarm_id)), 10, "swarm_terminated")
    # every reply to the terminate names the terminate, not the launch
    replies = [e for e in bus.events(None, swarm_id=swarm_id) if e.get("status") in ("terminating", "terminated")]
    assert len(replies) >= 3 and {e.get("request_id") for e in replies} == {request_id}, replies
    assert not bus.events("command_rejected", swarm_id=swarm_id)
    assert jobs_named(own_lab, swarm_id) == []


async def terminating_without_a_job(pg_url: str, swarm_id: str) -> None:
    """What a crash leaves when a terminate came while the launch had not recorded its job yet."""
    db = Database(pg_url)
    try:
        async with db.transaction() as session:
            session.add(
                SwarmRow(
                    swarm_id=swarm_id,
                    cluster="lab",
                    request_id="rq-launch",
                    terminate_request_id="rq-terminate",
                    provider="lab",
                    runtime="mock",
                    node_count=1,
                    status="terminating",
                    health="ok",
                    reason="terminated by user",
                    provider_params={},
                    runtime_params={},
                    download_workspaces=False,
                    created_at=now(),
                    updated_at=now(),
                )
            )
            await session.flush()
            create_nodes(session, swarm_id, 1)
    finally:
        await db.close()


async def test_a_restart_never_submits_for_a_terminating_swarm_and_cancels_the_job_it_finds(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader, pg_url: str
) -> None:
    providers = slurm_kit.providers_file()
    start_router(CODESWARM_PROVIDERS_FILE=providers).stop()  # the schema exists; the router is down
    # Ids of this run only: the lab remembers the jobs of earlier runs (and their names) for a while.
    run = uuid.uuid4().hex[:8]
    never_submitted, submitted = f"sw-t4never{run}", f"sw-t4found{run}"
    slurm_kit.swarm_ids += [never_submitted, submitted]
    for swarm_id in (never_submitted, submitted):
        await terminating_without_a_job(pg_url, swarm_id)
    name = shlex.quote(f"codeswarm-{submitted}")
    rc, out, err = slurm_kit.lab.ssh_run(f"sbatch --parsable -J {name} -o /dev/null --wrap 'sleep 300'")
    assert rc == 0, err
    job_id = out.strip()
    slurm_kit.lab.wait_job_state(job_id, {"RUNNING"}, 30)

    router = start_router(CODESWARM_PROVIDERS_FILE=providers)
    async with router.client() as client:
        for swarm_id in (never_submitted, submitted):
            ended = await wait_swarm(client, swarm_id, lambda s: s.get("status") == "terminated", 30)
            assert ended["reason"] == "terminated by user"
        assert (await client.get(f"/v1/swarms/{submitted}")).json()["job_id"] == job_id
    assert jobs_named(slurm_kit.lab, never_submitted) == []
    assert [(j, state) for j, _, state in jobs_named(slurm_kit.lab, submitted)] == [(job_id, "CANCELLED")]
    await bus.poll()
    for swarm_id in (never_submitted, submitted):
        (event,) = bus.events("swarm_terminated", swarm_id=swarm_id)
        assert event["request_id"] == "rq-terminate"
