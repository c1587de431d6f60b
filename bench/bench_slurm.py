"""The Slurm provider's figures, on the loopback Slurm lab (tests/slurm/lab; brought up when not running).

- launch: a real router process (Postgres + Redis) launches a 2-node mock swarm, from `POST /v1/swarms`
  to the swarm's `swarm_status running` on the bus; in the same run, alternating, a raw `sbatch` of a
  2-node job over an open paramiko connection to RUNNING seen by polling `squeue` (every 20 ms).  The
  overhead is the difference of the medians (goal ≤ 0.3 s).
- inject: one injection at a time into one node, from sending the POST to reading `inject_delivered` on
  the bus, against a raw paramiko round trip (`exec_command("true")` on an open connection) measured in the
  same run (goal ≤ 1.3x): with stock paramiko (Nagle's algorithm on; ~44 ms, as in the lab notes) and with
  TCP_NODELAY (as the router's connection), plus the raw SFTP append a delivery does.
- probe: SSH commands per probe interval, counted in the SSH layer of an in-process router (Postgres,
  in-process bus, 1 s probe interval), with 1 swarm and with 20 swarms (goal: equal).

Usage: ``.venv/bin/python bench/bench_slurm.py [--launches K] [--injects M] [--intervals N]``.
Prints the figures, writes bench/results/slurm.json and prints the JSON as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import paramiko

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_router import percentile, wait_event  # noqa: E402
from router.core import RouterCore, start_router  # noqa: E402
from router.providers.base import JobReport  # noqa: E402
from router.providers.slurm.provider import SlurmProvider  # noqa: E402
from router.store.swarms import get_swarm  # noqa: E402
from router.store.tables import SwarmRow  # noqa: E402
from services.bus.redis_bus import RedisEventBus  # noqa: E402
from services.protocol import LaunchRequest, SwarmStatus  # noqa: E402
from services.settings import Settings  # noqa: E402
from tests.slurm.conftest import SlurmLab, bring_up, tear_down, toml_value  # noqa: E402
from tests.support.router_process import RouterProcess  # noqa: E402
from tests.support.servers import create_database, delete_prefix, ensure_postgres, ensure_redis, unique_prefix  # noqa: E402

RAW_JOB = "\n".join(
    [
        "#!/bin/bash",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks=2",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --output=/dev/null",
        "srun sleep 60",
        "",
    ]
)


def providers_file(lab: SlurmLab, home: Path, base: str) -> Path:
    entry = {
        "id": "lab",
        "backend": "slurm",
        "host": lab.ssh_host,
        "port": lab.ssh_port,
        "user": lab.ssh_user,
        "key_file": lab.ssh_key,
        "known_hosts": lab.known_hosts,
        "base": base,
        "python": "/usr/bin/python3",
        "max_nodes": 64,
    }
    path = home / "providers.toml"
    path.write_text("[[providers]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in entry.items()))
    return path


def run(client: paramiko.SSHClient, command: str) -> str:
    _, stdout, stderr = client.exec_command(command, timeout=30)
    out = stdout.read().decode()
    if stdout.channel.recv_exit_status() != 0:
        raise RuntimeError(f"{command}: {stderr.read().decode()}")
    return out


def wait_state(client: paramiko.SSHClient, job_id: str, states: set[str], poll_s: float = 0.02) -> None:
    while run(client, f"squeue -h -t all -j {job_id} -o %T").strip() not in states:
        time.sleep(poll_s)


def wait_idle(client: paramiko.SSHClient) -> None:
    while set(run(client, "sinfo -h -N -o %T").split()) != {"idle"}:
        time.sleep(0.05)


def raw_launch(client: paramiko.SSHClient, script: str) -> float:
    started = time.perf_counter()
    job_id = run(client, f"sbatch --parsable {shlex.quote(script)}").strip()
    wait_state(client, job_id, {"RUNNING"})
    elapsed = time.perf_counter() - started
    run(client, f"scancel {job_id}")
    wait_state(client, job_id, {"CANCELLED"})
    wait_idle(client)
    return elapsed


async def swarm_running(bus: RedisEventBus, after: str, swarm_id: str) -> float:
    _, at = await wait_event(
        bus,
        after,
        lambda e: (
            e["event"] == "swarm_status"
            and e["data"]["swarm_id"] == swarm_id
            and e["data"]["status"] in ("running", "rejected", "failed")
        ),
    )
    return at


async def bench_launch_and_inject(lab: SlurmLab, base: str, launches: int, injects: int) -> dict[str, Any]:
    pg, redis_url = ensure_postgres(), ensure_redis()
    url, drop = create_database(pg)
    prefix = unique_prefix()
    raw_s: list[float] = []
    swarm_s: list[float] = []
    inject_ms: list[float] = []
    with tempfile.TemporaryDirectory() as home, lab.ssh() as client:
        env = {
            "CODESWARM_PROVIDERS_FILE": str(providers_file(lab, Path(home), base)),
            "CODESWARM_PROBE_INTERVAL_S": "30",
        }
        router = RouterProcess(Path(home), url, redis_url, prefix, extra_env=env).start()
        bus = RedisEventBus(redis_url, prefix)
        script = f"{base}/raw-job.sh"
        run(client, f"mkdir -p {shlex.quote(base)} && cat > {shlex.quote(script)} <<'EOF'\n{RAW_JOB}EOF")
        try:
            async with httpx.AsyncClient(base_url=router.url, timeout=60) as http:
                for _ in range(launches):
                    raw_s.append(await asyncio.to_thread(raw_launch, client, script))
                    after = await bus.last_id()
                    started = time.perf_counter()
                    body = {"provider": "lab", "nodes": 2, "runtime": "mock", "runtime_params": {"delay_ms": 0}}
                    swarm_id = (await http.post("/v1/swarms", json=body)).json()["swarm_id"]
                    swarm_s.append(await swarm_running(bus, after, swarm_id) - started)
                    await http.post(f"/v1/swarms/{swarm_id}/terminate", json={})
                    await wait_event(
                        bus,
                        after,
                        lambda e, s=swarm_id: e["event"] == "swarm_terminated" and e["data"]["swarm_id"] == s,
                    )
                    await asyncio.to_thread(wait_idle, client)

                after = await bus.last_id()
                body = {"provider": "lab", "nodes": 1, "runtime": "mock", "runtime_params": {"delay_ms": 0}}
                swarm_id = (await http.post("/v1/swarms", json=body)).json()["swarm_id"]
                await wait_event(
                    bus,
                    after,
                    lambda e: (
                        e["event"] == "node_status"
                        and e["data"]["swarm_id"] == swarm_id
                        and e["data"]["status"] == "idle"
                    ),
                )
                for i in range(injects):
                    after = await bus.last_id()
                    started = time.perf_counter()
                    response = await http.post(
                        f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": f"ping {i}"}
                    )
                    injection_id = response.json()["injections"][0]["injection_id"]
                    _, received = await wait_event(
                        bus,
                        after,
                        lambda e, iid=injection_id: (
                            e["event"] == "inject_delivered" and e["data"]["injection_id"] == iid
                        ),
                    )
                    inject_ms.append((received - started) * 1000)
                await http.post(f"/v1/swarms/{swarm_id}/terminate", json={})
                await wait_event(
                    bus, after, lambda e: e["event"] == "swarm_terminated" and e["data"]["swarm_id"] == swarm_id
                )
        finally:
            await bus.close()
            router.stop()
            delete_prefix(redis_url, prefix)
            drop()
    overhead = statistics.median(swarm_s) - statistics.median(raw_s)
    return {
        "launch_2_nodes": {
            "raw_sbatch_to_running_s": {"median": statistics.median(raw_s), "min": min(raw_s), "max": max(raw_s)},
            "codeswarm_post_to_running_s": {
                "median": statistics.median(swarm_s),
                "min": min(swarm_s),
                "max": max(swarm_s),
            },
            "overhead_s": overhead,
            "runs": launches,
        },
        "inject_to_delivered_ms": {"p50": percentile(inject_ms, 0.5), "p99": percentile(inject_ms, 0.99), "n": injects},
    }


def raw_paramiko(lab: SlurmLab, base: str, nodelay: bool, n: int) -> dict[str, float]:
    """p50 ms of an `exec_command("true")` round trip and of the SFTP append a delivery does, on one open
    connection; stock paramiko (Nagle on, as in the lab notes) or with TCP_NODELAY (as the router's)."""
    client = paramiko.SSHClient()
    client.load_host_keys(lab.known_hosts)
    sock = socket.create_connection((lab.ssh_host, lab.ssh_port))
    if nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.connect(
        lab.ssh_host,
        lab.ssh_port,
        lab.ssh_user,
        key_filename=lab.ssh_key,
        sock=sock,
        allow_agent=False,
        look_for_keys=False,
    )
    exec_ms, append_ms = [], []
    try:
        for _ in range(n):
            started = time.perf_counter()
            _, stdout, _ = client.exec_command("true", timeout=30)
            stdout.read()
            stdout.channel.recv_exit_status()
            exec_ms.append((time.perf_counter() - started) * 1000)
        sftp = client.open_sftp()
        for _ in range(n):
            started = time.perf_counter()
            with sftp.open(f"{base}/raw-append.jsonl", "ab") as handle:
                handle.write(b'{"type":"inject"}\n')
            append_ms.append((time.perf_counter() - started) * 1000)
        sftp.close()
    finally:
        client.close()
    return {"exec_round_trip_p50_ms": percentile(exec_ms, 0.5), "sftp_append_p50_ms": percentile(append_ms, 0.5)}


async def swarm_rows(core: RouterCore, ids: list[str]) -> list[SwarmRow]:
    async with core.db.transaction() as session:
        return [row for swarm_id in ids if (row := await get_swarm(session, swarm_id)) is not None]


async def commands_per_interval(lab: SlurmLab, base: str, swarms: int, intervals: int) -> float:
    """Commands the SSH layer ran per probe interval once `swarms` swarms are launched and settled."""
    url, drop = create_database(ensure_postgres())
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(
            home=Path(home),
            database_url=url,
            providers_file=providers_file(lab, Path(home), base),
            probe_interval_s=1.0,
            launch_timeout_s=600,
        )
        core = await start_router(settings)
        provider = core.providers["lab"]
        assert isinstance(provider, SlurmProvider)
        ssh = provider.cluster.ssh
        ids = []
        probes = 0
        probe = provider.probe

        async def counted(job_ids: Sequence[str]) -> dict[str, JobReport]:
            nonlocal probes
            probes += 1
            return await probe(job_ids)

        provider.probe = counted  # type: ignore[method-assign]  # counts the supervisor's probes
        try:
            for _ in range(swarms):
                request = LaunchRequest(nodes=1, provider="lab", runtime="mock")
                ids.append((await core.authority.launch(request, None)).swarm_id)
            settled = {SwarmStatus.PENDING, SwarmStatus.RUNNING}
            while not all(s.status in settled for s in await swarm_rows(core, ids)):  # every job submitted
                await asyncio.sleep(0.1)
            await asyncio.sleep(settings.probe_interval_s)  # let the launch-time queries pass
            before, probes = ssh.commands_run, 0
            while probes < intervals:
                await asyncio.sleep(0.05)
            count, measured = ssh.commands_run - before, probes
        finally:
            for swarm in await swarm_rows(core, ids):
                if swarm.job_id:
                    await provider.terminate(swarm.job_id)
            await core.stop()
            drop()
    return count / measured


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--injects", type=int, default=50)
    parser.add_argument("--intervals", type=int, default=5, help="probe intervals counted per swarm count")
    args = parser.parse_args()
    lab = bring_up()
    base = f"{lab.remote_base}/bench-{uuid.uuid4().hex[:8]}"
    try:
        results = await bench_launch_and_inject(lab, base, args.launches, args.injects)
        stock = await asyncio.to_thread(raw_paramiko, lab, base, False, args.injects)
        nodelay = await asyncio.to_thread(raw_paramiko, lab, base, True, args.injects)
        inject_p50 = results["inject_to_delivered_ms"]["p50"]
        results["inject_vs_raw_paramiko"] = {
            "stock_paramiko": stock,
            "tcp_nodelay": nodelay,
            "ratio_to_stock_round_trip": inject_p50 / stock["exec_round_trip_p50_ms"],
            "ratio_to_nodelay_round_trip": inject_p50 / nodelay["exec_round_trip_p50_ms"],
        }
        results["probe_commands_per_interval"] = {
            str(n): await commands_per_interval(lab, base, n, args.intervals) for n in (1, 20)
        }
    finally:
        with lab.ssh() as client:
            run(client, f"rm -rf {shlex.quote(base)}")
        if lab.started:
            tear_down(lab)
    launch, probe = results["launch_2_nodes"], results["probe_commands_per_interval"]
    inject, raw = results["inject_to_delivered_ms"], results["inject_vs_raw_paramiko"]
    sbatch, ours = launch["raw_sbatch_to_running_s"], launch["codeswarm_post_to_running_s"]
    print(
        f"launch 2 nodes: raw sbatch → RUNNING median {sbatch['median']:.3f}s, POST → running median "
        f"{ours['median']:.3f}s; overhead {launch['overhead_s']:.3f}s (goal ≤ 0.3 s)"
    )
    stock, nodelay = raw["stock_paramiko"], raw["tcp_nodelay"]
    print(
        f"inject → inject_delivered p50 {inject['p50']:.1f} ms (p99 {inject['p99']:.1f}); raw exec round trip p50 "
        f"{stock['exec_round_trip_p50_ms']:.1f} ms stock paramiko = {raw['ratio_to_stock_round_trip']:.2f}x "
        f"(goal ≤ 1.3x), {nodelay['exec_round_trip_p50_ms']:.1f} ms with TCP_NODELAY = "
        f"{raw['ratio_to_nodelay_round_trip']:.2f}x; the SFTP append a delivery does: "
        f"{nodelay['sftp_append_p50_ms']:.1f} ms with TCP_NODELAY, {stock['sftp_append_p50_ms']:.1f} ms stock"
    )
    print(f"SSH commands per probe interval: 1 swarm {probe['1']:.2f}, 20 swarms {probe['20']:.2f} (goal: equal)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "slurm.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(results).decode())


if __name__ == "__main__":
    asyncio.run(main())
