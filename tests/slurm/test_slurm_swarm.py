"""A swarm on the real Slurm lab through a real router: launch, injections, and ends Slurm reports."""

from __future__ import annotations

import io
import shlex
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_chat import FakeChat
from tests.support.fake_responses import FakeResponses
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm

if TYPE_CHECKING:
    from tests.slurm.conftest import SlurmRouterKit

PROBE_S = 1.0
CODEX_KEY = "sk-test-0123456789"


async def launch(client: httpx.AsyncClient, kit: SlurmRouterKit, **body: Any) -> str:
    response = await client.post("/v1/swarms", json={"provider": "lab", "runtime": "mock", **body})
    assert response.status_code == 202, response.text
    swarm_id: str = response.json()["swarm_id"]
    kit.swarm_ids.append(swarm_id)
    return swarm_id


async def test_two_node_swarm_answers_from_each_workspace(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.providers_file())
    async with router.client() as client:
        providers = (await client.get("/v1/providers")).json()["providers"]
        lab = next(p for p in providers if p["id"] == "lab")
        assert lab["backend"] == "slurm" and "partition" in {f["key"] for f in lab["launch_fields"]}

        swarm_id = await launch(client, slurm_kit, nodes=2, runtime_params={"delay_ms": 0})
        swarm = await wait_swarm(client, swarm_id, all_idle, 60)
        job_id = swarm["job_id"]
        assert job_id.isdigit() and swarm["provider"] == "lab"
        assert (job_id, f"codeswarm-{swarm_id}", "RUNNING") in slurm_kit.lab.squeue_all()
        # the node program was shipped once, as one content-named zipapp, and launching again reuses it
        second = await launch(client, slurm_kit, nodes=1)
        await wait_swarm(client, second, all_idle, 60)
        rc, out, _ = slurm_kit.lab.ssh_run(f"ls {slurm_kit.remote_base}/bin")
        assert rc == 0 and len(out.split()) == 1 and out.startswith("codeswarm-node-") and out.strip().endswith(".pyz")
        await client.post(f"/v1/swarms/{second}/terminate", json={})

        injected = await client.post(
            f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "$ pwd | tee where.txt"}
        )
        assert injected.status_code == 202, injected.text
        refs = injected.json()["injections"]
        await bus.wait_for(lambda: len(bus.events("turn_complete", swarm_id=swarm_id)) == 2, 30, "both turns")
        for ref in refs:
            mine = {"swarm_id": swarm_id, "node_id": ref["node_id"], "injection_id": ref["injection_id"]}
            assert bus.events("inject_delivered", **mine)
            assert "".join(d["delta"] for d in bus.events("assistant_delta", **mine)) == "echo: $ pwd | tee where.txt"
            (command,) = bus.events("command_completed", **mine)
            workspace = f"{slurm_kit.remote_base}/runs/{job_id}/node_0{ref['node_id']}"
            assert command["exit_code"] == 0 and command["output"].strip() == workspace
        # every directory and file under the base is its owner's only, whatever the login node's umask
        rc, shared, _ = slurm_kit.lab.ssh_run(f"find {slurm_kit.remote_base} -perm /077 -printf '%m %p\\n'")
        assert rc == 0 and shared == "", shared

        terminated = await client.post(f"/v1/swarms/{swarm_id}/terminate", json={"download_workspaces": True})
        assert terminated.status_code == 202
        ended = await wait_swarm(client, swarm_id, lambda s: s.get("status") == "terminated", 30)
        assert ended["reason"] == "terminated by user"
        assert not slurm_kit.live_jobs()
        # the workspaces came back over SSH as one tar stream
        await bus.wait_for(lambda: bool(bus.events("workspace_archive_ready", swarm_id=swarm_id)), 30, "archive")
        archive = await client.get(f"/v1/swarms/{swarm_id}/archive")
        assert archive.status_code == 200
        with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
            for node_id in (0, 1):
                member = tar.extractfile(f"{job_id}/node_0{node_id}/where.txt")
                workspace = f"{slurm_kit.remote_base}/runs/{job_id}/node_0{node_id}"
                assert member is not None and member.read().decode().strip() == workspace


async def test_jobs_cancelled_by_hand_end_their_swarms_within_two_probe_intervals(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.providers_file(), CODESWARM_PROBE_INTERVAL_S=str(PROBE_S))
    async with router.client() as client:
        # A job that never started: only Slurm can say it ended, and the swarm takes Slurm's words.
        waiting = await launch(client, slurm_kit, nodes=1, provider_params={"begin": "now+1hours"})
        queued = await wait_swarm(client, waiting, lambda s: s.get("reason") == "BeginTime", 30)
        assert queued["status"] == "pending"
        # A running job: its nodes get SIGTERM and write their exit records; Slurm records CANCELLED.
        running = await launch(client, slurm_kit, nodes=2)
        started = await wait_swarm(client, running, all_idle, 60)

        for swarm in (queued, started):
            rc, _, err = slurm_kit.lab.ssh_run(f"scancel {swarm['job_id']}")
            assert rc == 0, err
        ended = await wait_swarm(client, waiting, lambda s: s.get("status") == "terminated", 2 * PROBE_S + 1)
        assert ended["reason"] == f"Slurm job {queued['job_id']} CANCELLED (BeginTime)"
        stopped = await wait_swarm(client, running, lambda s: s.get("status") == "terminated", 2 * PROBE_S + 1)
        assert stopped["reason"] == f"Slurm job {started['job_id']} CANCELLED"
        await bus.wait_for(
            lambda: all(bus.events("swarm_terminated", swarm_id=s) for s in (waiting, running)), 5, "swarm_terminated"
        )
        assert not slurm_kit.live_jobs()


async def test_a_two_node_codex_swarm_answers_from_each_workspace(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader, codex_binary: Path
) -> None:
    fake = FakeResponses(expected_key=CODEX_KEY).start()
    try:
        # codex installed on the cluster's shared filesystem, as a site would: here, by the lab user
        shared_codex = f"{slurm_kit.remote_base}/tools/codex"
        rc, _, err = slurm_kit.lab.ssh_run(
            f"mkdir -p {slurm_kit.remote_base}/tools && cp {shlex.quote(str(codex_binary))} {shared_codex}"
        )
        assert rc == 0, err
        path = Path(slurm_kit.providers_file(runtimes=["mock", "codex"]))
        settings = f'\n[providers.runtime_settings.codex]\nbinary = "{shared_codex}"\nbase_url = "{fake.base_url}"\n'
        path.write_text(path.read_text() + settings + 'env_key = "CODESWARM_TEST_MODEL_KEY"\n')
        router = start_router(CODESWARM_PROVIDERS_FILE=str(path), CODESWARM_TEST_MODEL_KEY=CODEX_KEY)
        async with router.client() as client:
            params = {"model": "fake-model", "approval_policy": "never", "sandbox": "danger-full-access"}
            swarm_id = await launch(client, slurm_kit, nodes=2, runtime="codex", runtime_params=params)
            swarm = await wait_swarm(client, swarm_id, all_idle, 60)
            job_id = swarm["job_id"]
            rc, script, _ = slurm_kit.lab.ssh_run(f"cat {slurm_kit.remote_base}/swarms/{swarm_id}/job.sh")
            assert rc == 0 and CODEX_KEY not in script and "--secret-dir" in script
            rc, left, _ = slurm_kit.lab.ssh_run(f"ls {slurm_kit.remote_base}/swarms/{swarm_id}")
            assert rc == 0 and "secret_" not in left  # each node removed its key file once it had read it

            content = "Where are you? [run: pwd | tee where.txt]"
            await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": content})
            await bus.wait_for(lambda: len(bus.events("turn_complete", swarm_id=swarm_id)) == 2, 60, "both turns")
            for node_id in (0, 1):
                workspace = f"{slurm_kit.remote_base}/runs/{job_id}/node_0{node_id}"
                (command,) = bus.events("command_completed", swarm_id=swarm_id, node_id=node_id)
                assert command["exit_code"] == 0 and command["output"].strip() == workspace
                answer = "".join(d["delta"] for d in bus.events("assistant_delta", swarm_id=swarm_id, node_id=node_id))
                assert answer == f"Ran it. Output: {workspace}"
                rc, config, _ = slurm_kit.lab.ssh_run(
                    f"stat -c %a {slurm_kit.remote_base}/agents/{job_id}/node_0{node_id}/config.toml"
                )
                assert rc == 0 and config.strip() == "600"
            assert {r.headers["authorization"] for r in fake.requests} == {f"Bearer {CODEX_KEY}"}
            await client.post(f"/v1/swarms/{swarm_id}/terminate", json={})
            await wait_swarm(client, swarm_id, lambda s: s.get("status") == "terminated", 30)
    finally:
        fake.stop()


async def test_openai_and_claude_swarms_answer_from_each_workspace(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader, claude_binary: Path
) -> None:
    chat, anthropic = FakeChat().start(), FakeAnthropic().start()
    try:
        shared_claude = f"{slurm_kit.remote_base}/tools/claude"
        rc, _, err = slurm_kit.lab.ssh_run(
            f"mkdir -p {slurm_kit.remote_base}/tools && cp {shlex.quote(str(claude_binary))} {shared_claude}"
        )
        assert rc == 0, err
        path = Path(slurm_kit.providers_file(runtimes=["mock", "openai", "claude"]))
        path.write_text(
            path.read_text()
            + f'\n[providers.runtime_settings.openai]\nbase_url = "{chat.base_url}"\n'
            + f'\n[providers.runtime_settings.claude]\nbinary = "{shared_claude}"\nbase_url = "{anthropic.base_url}"\n'
            + 'env_key = "CODESWARM_TEST_ANTHROPIC_KEY"\n'
        )
        router = start_router(CODESWARM_PROVIDERS_FILE=str(path), CODESWARM_TEST_ANTHROPIC_KEY="sk-ant-test-0123")
        async with router.client() as client:
            runs = {
                "openai": ({"model": "fake-chat", "approval_policy": "never"}, "[tool: pwd]", "Tool said: "),
                "claude": ({"model": "fake-model", "approval_policy": "never"}, "[bash: pwd]", "Ran it. Output: "),
            }
            for runtime, (params, prompt, prefix) in runs.items():
                swarm_id = await launch(client, slurm_kit, nodes=2, runtime=runtime, runtime_params=params)
                job_id = (await wait_swarm(client, swarm_id, all_idle, 90))["job_id"]
                await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": prompt})
                await bus.wait_for(both_complete(bus, swarm_id), 120, f"both {runtime} turns")
                for node_id in (0, 1):
                    workspace = f"{slurm_kit.remote_base}/runs/{job_id}/node_0{node_id}"
                    mine = {"swarm_id": swarm_id, "node_id": node_id}
                    assert bus.events("turn_complete", **mine)[0]["status"] == "completed", runtime
                    (command,) = bus.events("command_completed", **mine)
                    assert command["exit_code"] == 0 and command["output"].strip() == workspace, runtime
                    answer = "".join(d["delta"] for d in bus.events("assistant_delta", **mine))
                    assert answer == prefix + workspace, runtime
                await client.post(f"/v1/swarms/{swarm_id}/terminate", json={})
                await wait_swarm(client, swarm_id, lambda s: s.get("status") == "terminated", 30)
    finally:
        chat.stop()
        anthropic.stop()


def both_complete(bus: BusReader, swarm_id: str) -> Callable[[], bool]:
    return lambda: len(bus.events("turn_complete", swarm_id=swarm_id)) == 2
