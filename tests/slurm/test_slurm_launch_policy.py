"""What Slurm or the router refuses, and launches that never start: nothing is left on the cluster."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.router_process import BusReader, RouterProcess, wait_swarm

CODESWARM = Path(sys.executable).parent / "codeswarm"

if TYPE_CHECKING:
    from tests.slurm.conftest import SlurmRouterKit


async def test_sbatch_refusal_rejects_the_launch_with_sbatchs_words(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.providers_file())
    async with router.client() as client:
        response = await client.post(
            "/v1/swarms", json={"provider": "lab", "nodes": 2, "provider_params": {"partition": "small"}}
        )
        assert response.status_code == 202, response.text
        swarm_id = response.json()["swarm_id"]
        slurm_kit.swarm_ids.append(swarm_id)
        await bus.wait_for(lambda: bool(bus.events("command_rejected", swarm_id=swarm_id)), 30, "command_rejected")
        (rejected,) = bus.events("command_rejected", swarm_id=swarm_id)
        assert rejected["command"] == "launch"
        assert "Node count specification invalid" in rejected["reason"], rejected
        swarm = (await client.get(f"/v1/swarms/{swarm_id}")).json()  # readable for the TTL, never listed
        assert swarm["status"] == "rejected" and swarm["reason"] == rejected["reason"], swarm
        listed = (await client.get("/v1/swarms")).json()["swarms"]
        assert swarm_id not in {s["swarm_id"] for s in listed}
    cli = await asyncio.to_thread(
        subprocess.run,
        [
            str(CODESWARM),
            "--router",
            router.url,
            "launch",
            "--provider",
            "lab",
            "--nodes",
            "2",
            "--param=partition=small",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1, cli
    assert "was rejected: sbatch: error: Batch job submission failed: Node count specification invalid" in cli.stderr
    cli_swarm = cli.stderr.split("launch of ")[-1].split(" ")[0]
    slurm_kit.swarm_ids.append(cli_swarm)
    assert not [row for row in slurm_kit.lab.squeue_all() if row[1] == f"codeswarm-{swarm_id}"]
    rc, out, _ = slurm_kit.lab.ssh_run(f"ls {shlex.quote(slurm_kit.remote_base + '/swarms')}")
    assert rc == 0 and out.strip() == "", f"the swarm's files were left on the cluster: {out!r}"


async def test_shell_and_sbatch_injection_through_launch_fields_is_refused(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess]
) -> None:
    marker = f"{slurm_kit.remote_base}/pwned"
    attacks = [
        ("partition", f"debug\n#SBATCH --wrap=touch {marker}"),
        ("partition", f"$(touch {marker})"),
        ("account", f"`touch {marker}`"),
        ("constraint", f"a;touch {marker}"),
        ("time", f"10 && touch {marker}"),
        ("qos", "normal'"),
        ("gres", "gpu:1\n"),
    ]
    router = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.providers_file())
    async with router.client() as client:
        for key, value in attacks:
            response = await client.post(
                "/v1/swarms", json={"provider": "lab", "nodes": 1, "provider_params": {key: value}}
            )
            assert response.status_code == 422, (key, value, response.text)
            (error,) = response.json()["detail"]
            assert error["loc"] == ["body", "provider_params", key] and "must match" in error["msg"]
        unknown = await client.post(
            "/v1/swarms", json={"provider": "lab", "nodes": 1, "provider_params": {"wrap": f"touch {marker}"}}
        )
        assert unknown.status_code == 422
        message = unknown.json()["detail"][0]["msg"]
        assert "unknown launch field 'wrap'" in message and "partition" in message and "gres" in message
        assert (await client.get("/v1/swarms")).json()["swarms"] == []
    rc, _, _ = slurm_kit.lab.ssh_run(f"test -e {shlex.quote(marker)}")
    assert rc != 0, "the marker file appeared on the cluster"


async def test_a_launch_pending_past_the_hard_timeout_is_cancelled_and_fails(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    timeout_s = 4
    router = start_router(
        CODESWARM_PROVIDERS_FILE=slurm_kit.providers_file(), CODESWARM_LAUNCH_TIMEOUT_S=str(timeout_s)
    )
    async with router.client() as client:
        response = await client.post(
            "/v1/swarms", json={"provider": "lab", "nodes": 2, "provider_params": {"begin": "now+2hours"}}
        )
        assert response.status_code == 202, response.text
        swarm_id = response.json()["swarm_id"]
        slurm_kit.swarm_ids.append(swarm_id)
        pending = await wait_swarm(client, swarm_id, lambda s: s.get("status") == "pending", 30)
        assert pending["reason"] == "BeginTime"  # Slurm's pending reason, visible on the swarm
        await bus.wait_for(
            lambda: any(e.get("reason") == "BeginTime" for e in bus.events("swarm_status", swarm_id=swarm_id)),
            5,
            "swarm_status carrying the pending reason",
        )
        failed = await wait_swarm(client, swarm_id, lambda s: s.get("status") == "failed", timeout_s + 10)
        assert "launch timeout" in failed["reason"] and "BeginTime" in failed["reason"], failed
    states = {state for _, name, state in slurm_kit.lab.squeue_all() if name == f"codeswarm-{swarm_id}"}
    assert states == {"CANCELLED"}
