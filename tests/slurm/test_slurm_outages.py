"""Outages of the login node's sshd and of slurmctld: probes say "unknown", nothing ends, nothing is lost."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from router.translate import translate_record
from services.node.records import outbox_path
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm

if TYPE_CHECKING:
    from tests.slurm.conftest import SlurmRouterKit

PROBE_S = 1.0


def statuses(bus: BusReader, swarm_id: str) -> list[str]:
    return [e["status"] for e in bus.events("swarm_status", swarm_id=swarm_id)]


def outbox_records(kit: SlurmRouterKit, job_id: str, node_id: int) -> list[dict[str, Any]]:
    with kit.lab.sftp() as sftp, sftp.open(outbox_path(kit.remote_base, job_id, node_id)) as handle:
        text = handle.read().decode()
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


async def test_sshd_restart_while_nodes_stream_loses_and_repeats_nothing(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.providers_file(), CODESWARM_PROBE_INTERVAL_S=str(PROBE_S))
    async with router.client() as client:
        response = await client.post(
            "/v1/swarms",
            json={"provider": "lab", "nodes": 2, "runtime": "mock", "runtime_params": {"tokens": 150, "delay_ms": 20}},
        )
        swarm_id = response.json()["swarm_id"]
        slurm_kit.swarm_ids.append(swarm_id)
        job_id = (await wait_swarm(client, swarm_id, all_idle, 60))["job_id"]
        injected = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "stream on"})
        assert injected.status_code == 202
        await bus.wait_for(
            lambda: len({e["node_id"] for e in bus.events("assistant_delta", swarm_id=swarm_id)}) == 2,
            20,
            "both nodes streaming",
        )
        await asyncio.to_thread(slurm_kit.lab.restart_sshd)  # the follower's channel and every session drop
        await bus.wait_for(lambda: len(bus.events("turn_complete", swarm_id=swarm_id)) == 2, 60, "both turns")

        for node_id in (0, 1):
            records = await asyncio.to_thread(outbox_records, slurm_kit, job_id, node_id)
            assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
            last = max(r["seq"] for r in records if translate_record(r))  # heartbeats become no event

            def reached(node: int = node_id, seq: int = last) -> bool:
                return any(e.get("seq", 0) >= seq for e in bus.events(None, swarm_id=swarm_id, node_id=node))

            await bus.wait_for(reached, 10, f"node {node_id}'s records up to seq {last} on the bus")
            expected = Counter((r["seq"], str(event)) for r in records for event, _ in translate_record(r))
            seen = Counter(
                (e["seq"], name)
                for _, envelope in bus.entries
                if (e := envelope["data"]).get("swarm_id") == swarm_id
                and e.get("node_id") == node_id
                and "seq" in e
                and e["seq"] <= last
                and (name := envelope["event"])
            )
            assert seen == expected, f"node {node_id}: lost {expected - seen}, repeated {seen - expected}"
            assert sum(1 for r in records if r["kind"] == "runtime") > 150
        swarm = (await client.get(f"/v1/swarms/{swarm_id}")).json()
        assert swarm["status"] == "running"
        assert set(statuses(bus, swarm_id)) <= {"pending", "running"}


async def test_slurmctld_outage_changes_no_swarm_and_health_recovers(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.providers_file(), CODESWARM_PROBE_INTERVAL_S=str(PROBE_S))
    async with router.client() as client:
        running = (await client.post("/v1/swarms", json={"provider": "lab", "nodes": 1})).json()["swarm_id"]
        waiting = (
            await client.post(
                "/v1/swarms", json={"provider": "lab", "nodes": 1, "provider_params": {"begin": "now+1hours"}}
            )
        ).json()["swarm_id"]
        slurm_kit.swarm_ids += [running, waiting]
        await wait_swarm(client, running, all_idle, 60)
        await wait_swarm(client, waiting, lambda s: s.get("status") == "pending", 30)
        await bus.poll()
        before = {s: statuses(bus, s) for s in (running, waiting)}

        await asyncio.to_thread(slurm_kit.lab.stop_slurmctld)
        try:
            stopped_at = time.monotonic()
            for swarm_id in (running, waiting):
                await wait_swarm(client, swarm_id, lambda s: s.get("health") == "unknown", 3 * PROBE_S + 5)
            # the outage lasts more than two probe intervals: every probe in it fails, no swarm moves
            await asyncio.sleep(max(0.0, stopped_at + 2.5 * PROBE_S - time.monotonic()))
            for swarm_id in (running, waiting):
                swarm = (await client.get(f"/v1/swarms/{swarm_id}")).json()
                assert swarm["health"] == "unknown" and swarm["status"] in ("running", "pending"), swarm
        finally:
            await asyncio.to_thread(slurm_kit.lab.start_slurmctld)
        for swarm_id in (running, waiting):
            await wait_swarm(client, swarm_id, lambda s: s.get("health") == "ok", 3 * PROBE_S + 5)
        await bus.poll()
        for swarm_id in (running, waiting):
            # only health changed: the statuses announced during and after the outage are the same as before
            assert set(statuses(bus, swarm_id)[len(before[swarm_id]) :]) <= set(before[swarm_id][-1:]), swarm_id
        assert (await client.get(f"/v1/swarms/{running}")).json()["status"] == "running"
        assert (await client.get(f"/v1/swarms/{waiting}")).json()["status"] == "pending"


async def test_a_launch_while_the_login_node_is_down_waits_for_it_and_submits_once(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.providers_file())
    async with router.client() as client:
        await asyncio.to_thread(slurm_kit.lab.stop_sshd)
        try:
            response = await client.post("/v1/swarms", json={"provider": "lab", "nodes": 1, "runtime": "mock"})
            assert response.status_code == 202, response.text
            swarm_id = response.json()["swarm_id"]
            slurm_kit.swarm_ids.append(swarm_id)
            await bus.wait_for(
                lambda: bool(bus.events("swarm_launch_progress", swarm_id=swarm_id, phase="retrying")),
                20,
                "a launch progress event saying the launch is retrying",
            )
            assert (await client.get(f"/v1/swarms/{swarm_id}")).json()["status"] == "launching"
        finally:
            await asyncio.to_thread(slurm_kit.lab.start_sshd)
        await wait_swarm(client, swarm_id, all_idle, 60)
    jobs = [row for row in slurm_kit.lab.squeue_all() if row[1] == f"codeswarm-{swarm_id}"]
    assert len(jobs) == 1 and jobs[0][2] == "RUNNING", jobs
    assert not bus.events("command_rejected", swarm_id=swarm_id)


async def test_a_launch_that_cannot_reach_the_login_node_within_the_launch_timeout_is_rejected(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.providers_file(), CODESWARM_LAUNCH_TIMEOUT_S="3")
    async with router.client() as client:
        await asyncio.to_thread(slurm_kit.lab.stop_sshd)
        try:
            response = await client.post("/v1/swarms", json={"provider": "lab", "nodes": 1, "runtime": "mock"})
            swarm_id = response.json()["swarm_id"]
            slurm_kit.swarm_ids.append(swarm_id)
            await bus.wait_for(lambda: bool(bus.events("command_rejected", swarm_id=swarm_id)), 20, "the rejection")
        finally:
            await asyncio.to_thread(slurm_kit.lab.start_sshd)
        (rejected,) = bus.events("command_rejected", swarm_id=swarm_id)
        assert rejected["command"] == "launch"
        assert "did not answer for the launch timeout of 3s" in rejected["reason"]
        assert f"codeswarm-{swarm_id}" in rejected["reason"]
        swarm = (await client.get(f"/v1/swarms/{swarm_id}")).json()  # the reason stays readable for the TTL
        assert swarm["status"] == "rejected" and swarm["reason"] == rejected["reason"], swarm
    assert not [row for row in slurm_kit.lab.squeue_all() if row[1] == f"codeswarm-{swarm_id}"]
