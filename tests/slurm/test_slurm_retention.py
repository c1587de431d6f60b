"""On the real Slurm lab, over the provider's SSH connection: a job id that a reinstalled controller
hands out again never mixes the new swarm with the ended one's files (they are moved aside before the
held job is released), and the retention policy deletes both swarms' files on the cluster's base —
run directories, mailboxes, stage directories and the moved leftovers — with swarm_files_deleted
saying what, never following a symlink out of the base.  Removal drops the swarms' bus cursors."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from router.retention_remote import parsed_output, remote_command
from tests.slurm.conftest import SlurmLab, fresh_lab
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm

if TYPE_CHECKING:
    from tests.slurm.conftest import SlurmRouterKit

TIMINGS = {
    "CODESWARM_TERMINATED_TTL_S": "0.5",
    "CODESWARM_PROBE_INTERVAL_S": "1",
    "CODESWARM_RETENTION_INTERVAL_S": "0.2",
}


def answers(bus: BusReader, swarm_id: str) -> list[str]:
    return [e["text"] for e in bus.events("assistant", swarm_id=swarm_id)]


async def run_once(client: httpx.AsyncClient, kit: SlurmRouterKit, bus: BusReader, prompt: str) -> dict[str, Any]:
    """A one-node swarm that answered prompt; returns the swarm (running, idle)."""
    response = await client.post("/v1/swarms", json={"provider": "lab", "nodes": 1, "runtime": "mock"})
    assert response.status_code == 202, response.text
    swarm_id = response.json()["swarm_id"]
    kit.swarm_ids.append(swarm_id)
    swarm = await wait_swarm(client, swarm_id, all_idle, 60)
    await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": prompt})
    await bus.wait_for(lambda: bool(answers(bus, swarm_id)), 30, f"{swarm_id}'s answer")
    return swarm


async def remove(client: httpx.AsyncClient, swarm_id: str) -> None:
    assert (await client.post(f"/v1/swarms/{swarm_id}/terminate", json={})).status_code == 202
    await wait_swarm(client, swarm_id, lambda s: s.get("status_code") == 404, 60)


def remote_files(lab: SlurmLab, base: str) -> list[str]:
    rc, out, err = lab.ssh_run(f"cd {shlex.quote(base)} && find . -mindepth 1 -not -type d -not -path './bin/*'")
    assert rc == 0, err
    return sorted(out.split())


async def test_a_job_id_given_again_never_mixes_swarms_and_retention_reclaims_both_on_the_cluster(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    base = slurm_kit.remote_base
    outside = f"{base}-outside"  # a sibling of the base: a symlink into it must not be followed
    with fresh_lab() as before:
        router = start_router(
            CODESWARM_PROVIDERS_FILE=slurm_kit.write_providers([slurm_kit.entry(before, "lab", base)]), **TIMINGS
        )
        async with router.client() as client:
            old = await run_once(client, slurm_kit, bus, "$ echo old > mark.txt")
            assert old["job_id"] == "1"
            await remove(client, old["swarm_id"])  # its files stay: the retention time is a day
        router.stop()
    # the controller is reinstalled (a new state directory: job ids from 1 again); same user, same base
    leftovers = remote_files(slurm_kit.lab, base)
    assert "./runs/1/node_00/mark.txt" in leftovers and "./mailbox/inbox/1_00.jsonl" in leftovers
    with fresh_lab() as after:
        providers = slurm_kit.write_providers([slurm_kit.entry(after, "lab", base)])
        router = start_router(CODESWARM_PROVIDERS_FILE=providers, **TIMINGS)
        async with router.client() as client:
            new = await run_once(client, slurm_kit, bus, "$ ls")
            new_id, old_id = new["swarm_id"], old["swarm_id"]
            assert new["job_id"] == "1"
            # the new node never read the old inbox (it would have run the old prompt first), the router
            # never took the old outbox for the new swarm's, and the old workspace is not the new one
            assert answers(bus, new_id) == ["echo: $ ls"]
            (listing,) = [e["output"] for e in bus.events("command_completed", swarm_id=new_id)]
            assert "mark.txt" not in listing
            moved = remote_files(slurm_kit.lab, base)
            assert f"./retired/1-{new_id}/runs/1/node_00/mark.txt" in moved
            assert f"./retired/1-{new_id}/mailbox/inbox/1_00.jsonl" in moved
            rc, _, err = after.ssh_run(
                f"mkdir -p {shlex.quote(outside)} && echo keep > {shlex.quote(outside)}/precious.txt && "
                f"ln -s {shlex.quote(outside)} {shlex.quote(base)}/runs/1/node_00/link-out"
            )
            assert rc == 0, err
            await remove(client, new_id)
        cursors = await bus.bus.cursors()
        assert not [name for name in cursors if name.startswith((f"node:{old_id}:", f"node:{new_id}:"))]
        router.stop()
        # past a tiny retention, both swarms' files go
        router = start_router(CODESWARM_PROVIDERS_FILE=providers, CODESWARM_RETENTION_FILES_H=str(1 / 3600), **TIMINGS)
        await bus.wait_for(
            lambda: all(bus.events("swarm_files_deleted", swarm_id=s) for s in (old_id, new_id)), 60, "both deleted"
        )
        deleted = {s: bus.events("swarm_files_deleted", swarm_id=s)[0] for s in (old_id, new_id)}
        for data in deleted.values():
            assert data["host"] == "lab" and "retention_files_h" in data["reason"] and data["bytes"] > 0
        paths = {s: {entry["path"] for entry in d["paths"]} for s, d in deleted.items()}
        assert paths[old_id] == {f"{base}/retired/1-{new_id}", f"{base}/swarms/{old_id}"}
        assert {f"{base}/runs/1", f"{base}/swarms/{new_id}", f"{base}/mailbox/outbox/1_00.jsonl"} <= paths[new_id]
        assert remote_files(slurm_kit.lab, base) == []
        rc, kept, _ = after.ssh_run(f"cat {shlex.quote(outside)}/precious.txt && rm -rf {shlex.quote(outside)}")
        assert rc == 0 and kept.strip() == "keep"


def test_the_remote_deleter_never_leaves_the_base_through_a_symlinked_directory(slurm_kit: SlurmRouterKit) -> None:
    base = shlex.quote(slurm_kit.remote_base)
    outside = shlex.quote(f"{slurm_kit.remote_base}-elsewhere")
    rc, _, err = slurm_kit.lab.ssh_run(
        f"mkdir -p {base}/mailbox/outbox {outside}/7 && echo keep > {outside}/7/data && "
        f"ln -s {outside} {base}/runs && echo '{{}}' > {base}/mailbox/outbox/7_00.jsonl"
    )
    assert rc == 0, err
    command = remote_command(slurm_kit.remote_base, ["runs/7", "mailbox/outbox/7_00.jsonl", "agents/7"], delete=True)
    rc, out, err = slurm_kit.lab.ssh_run(command)
    assert rc == 0, err
    assert [(relative, size) for relative, _, size in parsed_output(out)] == [("mailbox/outbox/7_00.jsonl", 3)]
    rc, kept, _ = slurm_kit.lab.ssh_run(f"cat {outside}/7/data && rm -rf {outside}")
    assert rc == 0 and kept.strip() == "keep"
