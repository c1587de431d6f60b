"""Probes clean up after themselves: while slurmctld is down, a probe that times out stops its squeue
on the login node (none pile up there), and the swarm's health reason says what happened."""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.slurm.conftest import SlurmLab, fresh_lab
from tests.support.router_process import RouterProcess, all_idle, wait_swarm

if TYPE_CHECKING:
    from tests.slurm.conftest import SlurmRouterKit

PROBE_S = 1.0
WINDOW_S = 12.0  # longer than squeue's own retrying (~10 s) when its controller is down
MOST_AT_ONCE = 3  # a probe's squeue lives at most its 2 s timeout (+1 s to be killed): ~2 at a time


@pytest.fixture
def own_lab() -> Iterator[SlurmLab]:
    with fresh_lab() as lab:
        yield lab


def squeues_of(lab: SlurmLab) -> int:
    """squeue processes on the login node started for this lab (its SLURM_CONF), as the lab user."""
    conf = shlex.quote(f"SLURM_CONF={lab.slurm_conf}")
    rc, out, err = lab.ssh_run(
        f"for p in $(pgrep -u {lab.ssh_user} -x squeue); do grep -qzx {conf} /proc/$p/environ && echo $p; done"
    )
    assert rc == 0 or not out, err
    return len(out.split())


async def test_a_timed_out_probe_leaves_no_squeue_behind(
    slurm_kit: SlurmRouterKit, own_lab: SlurmLab, start_router: Callable[..., RouterProcess]
) -> None:
    entry = slurm_kit.entry(own_lab, "lab", slurm_kit.remote_base)
    router = start_router(
        CODESWARM_PROVIDERS_FILE=slurm_kit.write_providers([entry]), CODESWARM_PROBE_INTERVAL_S=str(PROBE_S)
    )
    async with router.client() as client:
        swarm_id = (await client.post("/v1/swarms", json={"provider": "lab", "nodes": 1})).json()["swarm_id"]
        await wait_swarm(client, swarm_id, all_idle, 60)
        await asyncio.to_thread(own_lab.stop_slurmctld)
        try:
            swarm = await wait_swarm(client, swarm_id, lambda s: s.get("health") == "unknown", 10)
            assert swarm["health_reason"] == "squeue did not answer within 2s (is slurmctld up?)", swarm
            counts = []
            ends = time.monotonic() + WINDOW_S
            while time.monotonic() < ends:  # sample the login node over a window of many probes
                counts.append(await asyncio.to_thread(squeues_of, own_lab))
            assert len(counts) > 5 and max(counts) <= MOST_AT_ONCE, counts
        finally:
            await asyncio.to_thread(own_lab.start_slurmctld)
        await wait_swarm(client, swarm_id, lambda s: s.get("health") == "ok", 10)
