"""What an idle swarm costs: CPU of the router process and of its node programs while nothing happens.

A real router process (Postgres + Redis, heartbeats every 2 s as by default, probes every 30 s) launches
a ``--nodes`` node mock swarm; once every node is idle and ``--settle`` seconds have passed, the CPU time
(user + system, from /proc/<pid>/stat) of the router and of all node programs is sampled over
``--seconds`` s.  Figures are percent of one core (goal: router ≤ 2 %, all 16 nodes together ≤ 2 %).
CPU time, not wall time: other work on shared cores barely moves it.

Then what idling must not cost: ``--injects`` injections into node 0, ``--gap`` s apart (so each finds
the router and the node idle), timed from sending the POST to reading ``inject_delivered`` and the
turn's first ``assistant_delta`` on the bus (p50/max in ms).

Usage: ``.venv/bin/python bench/bench_idle.py [--nodes N] [--seconds S] [--settle S]``.
Prints the figures, writes bench/results/idle.json and prints the JSON as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.bench_router import percentile, wait_event  # noqa: E402
from bench.deployments import cpu_seconds, node_pids  # noqa: E402
from services.bus.redis_bus import RedisEventBus  # noqa: E402
from tests.support.router_process import RouterProcess, all_idle, wait_swarm  # noqa: E402
from tests.support.servers import (  # noqa: E402
    create_database,
    delete_prefix,
    ensure_postgres,
    ensure_redis,
    unique_prefix,
)

ENV = {"CODESWARM_HEARTBEAT_INTERVAL_S": "2", "CODESWARM_PROBE_INTERVAL_S": "30"}


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip()


async def measure(router: RouterProcess, args: argparse.Namespace) -> dict[str, Any]:
    nodes, seconds = args.nodes, args.seconds
    async with router.client(router.token()) as http:
        response = await http.post("/v1/swarms", json={"nodes": nodes, "runtime": "mock"})
        response.raise_for_status()
        swarm = await wait_swarm(http, response.json()["swarm_id"], all_idle, 120)
        await asyncio.sleep(args.settle)
        assert router.process is not None
        router_pid = router.process.pid
        pids = node_pids(router.home / "local", swarm["job_id"])
        router_before, nodes_before = cpu_seconds(router_pid), sum(cpu_seconds(pid) for pid in pids)
        await asyncio.sleep(seconds)
        router_used = cpu_seconds(router_pid) - router_before
        nodes_used = sum(cpu_seconds(pid) for pid in pids) - nodes_before
        latency = await inject_latency(router, http, swarm["swarm_id"], args.injects, args.gap)
        await http.post(f"/v1/swarms/{swarm['swarm_id']}/terminate", json={})
    return {
        "nodes": nodes,
        "seconds": seconds,
        "router_cpu_percent": round(100 * router_used / seconds, 2),
        "all_nodes_cpu_percent": round(100 * nodes_used / seconds, 2),
        "per_node_cpu_percent": round(100 * nodes_used / seconds / nodes, 3),
        **latency,
    }


def of_injection(name: str, injection_id: str) -> Any:
    return lambda e: e["event"] == name and e["data"].get("injection_id") == injection_id


async def inject_latency(
    router: RouterProcess, http: httpx.AsyncClient, swarm_id: str, injects: int, gap: float
) -> dict[str, Any]:
    bus = RedisEventBus(router.redis_url, router.redis_prefix)
    delivered_ms: list[float] = []
    first_delta_ms: list[float] = []
    try:
        for i in range(injects):
            await asyncio.sleep(gap)
            after = await bus.last_id()
            started = time.perf_counter()
            response = await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": f"ping {i}"})
            injection_id = response.json()["injections"][0]["injection_id"]

            after, delivered = await wait_event(bus, after, of_injection("inject_delivered", injection_id))
            _, first_delta = await wait_event(bus, after, of_injection("assistant_delta", injection_id))
            delivered_ms.append(1000 * (delivered - started))
            first_delta_ms.append(1000 * (first_delta - started))
    finally:
        await bus.close()
    return {
        "injects": injects,
        "gap_s": gap,
        "inject_to_delivered_ms": {"p50": round(percentile(delivered_ms, 0.5), 2), "max": round(max(delivered_ms), 2)},
        "inject_to_first_delta_ms": {
            "p50": round(percentile(first_delta_ms, 0.5), 2),
            "max": round(max(first_delta_ms), 2),
        },
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    database_url, drop_database = create_database(ensure_postgres())
    redis_url, prefix = ensure_redis(), unique_prefix()
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as home:
        router = RouterProcess(Path(home), database_url, redis_url, prefix, ENV)
        router.start()
        try:
            figures = await measure(router, args)
        finally:
            router.stop()
            router.stop_nodes()
            delete_prefix(redis_url, prefix)
            drop_database()
    return {"benchmark": "idle", "commit": git_commit(), "heartbeat_interval_s": 2, **figures}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long CPU time is sampled")
    parser.add_argument("--injects", type=int, default=10, help="injections timed after the idle sampling")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds of idling before each injection")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after all nodes are idle")
    result = asyncio.run(main(parser.parse_args()))
    print(
        f"idle {result['nodes']} nodes over {result['seconds']:g} s: router {result['router_cpu_percent']} % "
        f"of a core, all nodes {result['all_nodes_cpu_percent']} % ({result['per_node_cpu_percent']} % each)"
    )
    delivered, first = result["inject_to_delivered_ms"], result["inject_to_first_delta_ms"]
    print(
        f"inject after {result['gap_s']:g} s idle: → inject_delivered p50 {delivered['p50']} ms "
        f"(max {delivered['max']}), "
        f"→ first assistant_delta p50 {first['p50']} ms (max {first['max']})"
    )
    out = ROOT / "bench" / "results" / "idle.json"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result).decode())
