"""Event pipeline throughput, end to end: node outbox → router ingest → bus → mirror → SSE clients.

For each mode (split: router + mirror processes on Postgres + Redis; embedded: ``codeswarm up``) it
launches a swarm with the mock runtime, so the router knows the job and follows its outboxes, then
pauses the node programs (SIGSTOP: they write nothing meanwhile) and appends agentMessage delta records
in the node's own format straight to the outbox files (bench/outbox_writer.py, a process of its own).
The SSE clients (bench/sse_counter.py) count and order-check every delta, compare the text, count
cut-offs (and resume by id, as EventSource does), and time each delta from its append.

Cases (coalescing off unless named):
- sustained: ``--events`` records as fast as possible to one client, ``--repeat`` times; events/s at the
  client; also to ``--many`` clients at once;
- coalesced (split): the same to a second mirror with coalescing on; the text must still be exact;
- paced: 1,000 records/s for ``--paced-s`` s to one client: latency p50/p99, CPU per 1,000 events;
- fan-out (split): ``--clients`` clients at 100 records/s: latency p50/p99;
- idle: a 16-node swarm doing nothing for 10 s: CPU of the router (or embedded process) and the nodes;
- ceiling: plain redis-py pipelined XADD → XREAD, envelopes of the measured size, in the same run.

Usage: ``.venv/bin/python bench/bench_throughput.py [--modes split,embedded] [--events N] ...``.  Prints
the figures, writes bench/results/throughput.json and prints the JSON as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
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

from bench.bench_bus import make_envelopes, raw_redis_case  # noqa: E402
from bench.bench_pipeline import raise_open_file_limit  # noqa: E402
from bench.bench_router import percentile  # noqa: E402
from bench.deployments import Embedded, Split, cpu_seconds, node_pids, rss_bytes, signal_nodes  # noqa: E402
from bench.outbox_writer import delta_text  # noqa: E402
from bench.sse_counter import SSECounter  # noqa: E402
from services.node.records import outbox_path  # noqa: E402
from services.node.recovery import read_outbox_state  # noqa: E402
from tests.support.router_process import all_idle, wait_swarm  # noqa: E402
from tests.support.servers import delete_prefix, ensure_postgres, ensure_redis, unique_prefix  # noqa: E402

Deployment = Split | Embedded
IDLE_S = 15.0  # a case ends when no delta arrived for this long
TEXT_BYTES = 24
COALESCE_MS = 20.0


class Swarm:
    """A launched mock swarm whose node programs are paused; appends continue each node's seq."""

    def __init__(self, deployment: Deployment, swarm_id: str, job_id: str, nodes: int) -> None:
        self.deployment = deployment
        self.swarm_id = swarm_id
        self.job_id = job_id
        self.nodes = nodes
        self.next_seq: dict[int, int] = {}

    @classmethod
    async def launch(cls, deployment: Deployment, nodes: int, *, pause: bool = True) -> Swarm:
        async with httpx.AsyncClient(base_url=deployment.router_url, timeout=60) as http:
            response = await http.post("/v1/swarms", json={"nodes": nodes, "runtime": "mock"})
            response.raise_for_status()
            swarm_id = response.json()["swarm_id"]
            swarm = await wait_swarm(http, swarm_id, all_idle, 120)
        made = cls(deployment, swarm_id, swarm["job_id"], nodes)
        if pause:
            signal_nodes(deployment.runs_base, made.job_id, signal.SIGSTOP)
            for node in range(nodes):
                made.next_seq[node] = read_outbox_state(made.outbox(node)).last_seq + 1
        return made

    def outbox(self, node: int) -> str:
        return outbox_path(str(self.deployment.runs_base), self.job_id, node)

    def spec(self, records: int, rate: float) -> dict[str, Any]:
        boxes = [
            {"path": self.outbox(n), "job_id": self.job_id, "node_id": n, "first_seq": self.next_seq[n]}
            for n in range(self.nodes)
        ]
        return {"outboxes": boxes, "records": records, "rate": rate, "chunk": 100, "text_bytes": TEXT_BYTES}

    def advance(self, records: int) -> None:
        for node in range(self.nodes):
            self.next_seq[node] += records // self.nodes

    async def terminate(self) -> None:
        signal_nodes(self.deployment.runs_base, self.job_id, signal.SIGCONT)
        async with httpx.AsyncClient(base_url=self.deployment.router_url, timeout=60) as http:
            await http.post(f"/v1/swarms/{self.swarm_id}/terminate", json={})


async def write(spec: dict[str, Any]) -> dict[str, Any]:
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.outbox_writer",
        orjson.dumps(spec).decode(),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await writer.communicate()
    if writer.returncode != 0:
        raise RuntimeError(f"the outbox writer failed with {writer.returncode}")
    written: dict[str, Any] = orjson.loads(out)
    return written


async def run_case(
    swarm: Swarm, records: int, rate: float, clients: int, port: int | None = None
) -> tuple[list[SSECounter], dict[str, Any]]:
    """Connect the clients, append, read until every delta is in; the counters and the CPU used."""
    deployment = swarm.deployment
    records -= records % swarm.nodes
    firsts = dict(swarm.next_seq)
    counters = [
        SSECounter("127.0.0.1", port or deployment.mirror_port, swarm.swarm_id, firsts, records, keep_text=clients == 1)
        for _ in range(clients)
    ]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{counters[0].port}", timeout=30) as http:
        start_id = (await http.get("/v1/state")).json()["last_event_id"]
    for counter in counters:
        counter.last_id = start_id  # stream from there: a cut-off before the first event still resumes
    reading = [asyncio.create_task(counter.run(IDLE_S)) for counter in counters]
    for counter, task in zip(counters, reading, strict=True):  # a refused stream ends its task: say why
        connected = asyncio.create_task(counter.connected.wait())
        await asyncio.wait([connected, task], return_when=asyncio.FIRST_COMPLETED)
        connected.cancel()
        if task.done():
            task.result()
            raise RuntimeError("an SSE client stopped before it was connected")
    pids = deployment.service_pids()
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    began = time.monotonic()
    written = await write(swarm.spec(records, rate))
    await asyncio.gather(*reading)
    wall = time.monotonic() - began
    cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 3) for name, pid in pids.items()}
    swarm.advance(records)
    return counters, {"written": written, "wall_s": round(wall, 3), "cpu_s": cpu}


def check(counters: list[SSECounter], swarm: Swarm, firsts: dict[int, int], records: int) -> dict[str, Any]:
    """Exactly-once, per client: nothing lost, nothing twice, in order, and (one client) the exact text."""
    text_exact = None
    if counters[0].keep_text:
        per_node = records // swarm.nodes
        text_exact = all(
            counters[0].text_of(node)
            == "".join(delta_text(node, seq, TEXT_BYTES) for seq in range(first, first + per_node))
            for node, first in firsts.items()
        )
    return {
        "lost": sum(counter.expected - counter.received for counter in counters),
        "duplicated": sum(counter.duplicates for counter in counters),
        "gaps": sum(counter.gaps for counter in counters),
        "cut_offs": sum(counter.cutoffs for counter in counters),
        "text_exact": text_exact,
    }


def latency(counters: list[SSECounter]) -> dict[str, Any]:
    values = [ms for counter in counters for ms in counter.latencies_ms]
    if not values:
        return {"timed": 0}
    return {
        "timed": len(values),
        "p50_ms": round(percentile(values, 0.50), 2),
        "p99_ms": round(percentile(values, 0.99), 2),
        "max_ms": round(max(values), 2),
    }


async def case(swarm: Swarm, records: int, rate: float, clients: int, port: int | None = None) -> dict[str, Any]:
    firsts = dict(swarm.next_seq)
    counters, usage = await run_case(swarm, records, rate, clients, port)
    records -= records % swarm.nodes
    first = counters[0]
    seconds = max(first.last_at - first.first_at, 1e-9)
    cpu_total = sum(usage["cpu_s"].values())
    return {
        "records": records,
        "clients": clients,
        "rate": rate or "max",
        "events_per_s": round(first.received / seconds),
        "sse_events": first.events,
        "envelope_bytes": first.envelope_bytes,
        "seconds": round(seconds, 3),
        **check(counters, swarm, firsts, records),
        **latency(counters),
        "cpu_ms_per_1000_events": round(1e6 * cpu_total / records, 1),  # per record written
        **usage,
    }


async def idle_cpu(deployment: Deployment, nodes: int, seconds: float) -> dict[str, Any]:
    swarm = await Swarm.launch(deployment, nodes, pause=False)
    service = deployment.service_pids()
    pids = node_pids(deployment.runs_base, swarm.job_id)
    before = {name: cpu_seconds(pid) for name, pid in service.items()}
    nodes_before = sum(cpu_seconds(pid) for pid in pids)
    await asyncio.sleep(seconds)
    used = {name: round(100 * (cpu_seconds(pid) - before[name]) / seconds, 2) for name, pid in service.items()}
    nodes_used = round(100 * (sum(cpu_seconds(pid) for pid in pids) - nodes_before) / seconds, 2)
    await swarm.terminate()
    return {"nodes": nodes, "seconds": seconds, "service_cpu_percent": used, "all_nodes_cpu_percent": nodes_used}


async def run_mode(deployment: Deployment, args: argparse.Namespace) -> dict[str, Any]:
    deployment.start(COALESCE_MS)
    results: dict[str, Any] = {}
    try:
        results["idle"] = await idle_cpu(deployment, 16, args.idle_s)
        swarm = await Swarm.launch(deployment, args.nodes)
        results["sustained"] = [await case(swarm, args.events, 0, 1) for _ in range(args.repeat)]
        results["sustained_many"] = await case(swarm, args.events // 4, 0, args.many)
        if deployment.coalescing_port is not None:
            results["coalesced"] = await case(swarm, args.events, 0, 1, deployment.coalescing_port)
        results["paced_1000_per_s"] = await case(swarm, int(1000 * args.paced_s), 1000, 1)
        if isinstance(deployment, Split):
            results["fan_out"] = await case(swarm, int(100 * args.paced_s), 100, args.clients)
        results["rss_mb"] = {name: round(rss_bytes(pid) / 2**20, 1) for name, pid in deployment.service_pids().items()}
        results["events_before_rss"] = (
            sum(c["records"] for c in results["sustained"]) + results["sustained_many"]["records"]
        )
        await swarm.terminate()
    finally:
        deployment.stop()
    return results


async def ceiling(redis_url: str, envelope_bytes: int) -> dict[str, Any]:
    """Plain redis-py pipelined XADD (batches of 100) → XREAD, envelopes of the size the clients got."""
    prefix = f"{unique_prefix()}raw:"
    try:
        measured = await raw_redis_case(redis_url, f"{prefix}events", make_envelopes(100_000, envelope_bytes), 100)
    finally:
        delete_prefix(redis_url, prefix)
    return {"events_per_s": measured.events_per_s, "envelope_bytes": envelope_bytes, "p99_ms": measured.p99_ms}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    raise_open_file_limit(args.clients * 2 + 1000)
    pg, redis_url = ensure_postgres(), ensure_redis()
    results: dict[str, Any] = {
        "bench": "throughput",
        "conditions": {
            "cpus": os.cpu_count(),
            "loadavg_at_start": os.getloadavg(),
            "python": platform.python_version(),
            "nodes": args.nodes,
        },
    }
    with tempfile.TemporaryDirectory() as home:
        for mode in args.modes.split(","):
            base = Path(home) / mode
            base.mkdir()
            deployment: Deployment = Split(base, pg, redis_url) if mode == "split" else Embedded(base)
            results[mode] = await run_mode(deployment, args)
            if mode == "split":
                results["raw_redis_ceiling"] = await ceiling(redis_url, results[mode]["sustained"][0]["envelope_bytes"])
    results["conditions"]["loadavg_at_end"] = os.getloadavg()
    return results


def summary(results: dict[str, Any]) -> list[str]:
    lines = [f"conditions: {results['conditions']}"]
    ceiling = results.get("raw_redis_ceiling")
    if ceiling:
        lines.append(
            f"raw Redis XADD→XREAD ceiling: {ceiling['events_per_s']:,}/s ({ceiling['envelope_bytes']} B envelopes)"
        )
    for mode in ("split", "embedded"):
        figures = results.get(mode)
        if not figures:
            continue
        for name in ("sustained", "sustained_many", "coalesced", "paced_1000_per_s", "fan_out"):
            runs = figures.get(name)
            for run in runs if isinstance(runs, list) else [runs] if runs else []:
                lines.append(
                    f"{mode:8} {name:17} {run['events_per_s']:>8,}/s  clients {run['clients']:>3}  "
                    f"lost {run['lost']} dup {run['duplicated']} gaps {run['gaps']} cut-offs {run['cut_offs']} "
                    f"text {run['text_exact']}  p50 {run.get('p50_ms')} p99 {run.get('p99_ms')} ms  "
                    f"CPU {run['cpu_ms_per_1000_events']} ms/1000 ({run['cpu_s']})"
                )
        idle = figures["idle"]
        lines.append(
            f"{mode:8} idle 16 nodes: services {idle['service_cpu_percent']} % of a core, "
            f"nodes {idle['all_nodes_cpu_percent']} %; RSS {figures['rss_mb']} MB "
            f"after {figures['events_before_rss']:,} events"
        )
        if mode == "split" and ceiling:
            best = max(run["events_per_s"] for run in figures["sustained"])
            lines.append(f"split sustained best / ceiling = {best / ceiling['events_per_s']:.2f}")
    if "split" in results and "embedded" in results:
        split = max(run["events_per_s"] for run in results["split"]["sustained"])
        embedded = max(run["events_per_s"] for run in results["embedded"]["sustained"])
        lines.append(f"embedded / split sustained = {embedded / split:.2f}")
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--modes", default="split,embedded", help="comma-separated: split, embedded")
    parser.add_argument("--nodes", type=int, default=4, help="nodes whose outboxes get the records")
    parser.add_argument("--events", type=int, default=100_000, help="records per sustained run")
    parser.add_argument("--repeat", type=int, default=2, help="sustained runs per mode")
    parser.add_argument("--many", type=int, default=10, help="clients in the sustained_many run")
    parser.add_argument("--paced-s", type=float, default=10.0, help="seconds of the paced and fan-out runs")
    parser.add_argument("--clients", type=int, default=500, help="clients in the fan-out run")
    parser.add_argument("--idle-s", type=float, default=10.0, help="seconds of the idle measurement")
    arguments = parser.parse_args()
    figures = asyncio.run(main(arguments))
    print("\n".join(summary(figures)))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "throughput.json").write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")
    print(orjson.dumps(figures).decode())
