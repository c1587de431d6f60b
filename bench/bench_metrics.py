"""What metrics cost the hot path: the pipeline's sustained throughput with metrics on and off, in one run.

Two complete pipelines (a router and a mirror process each, on Postgres and Redis, their own database and
key prefix) differ only in ``CODESWARM_METRICS``.  The sustained case of bench_pipeline (mock nodes
streaming as fast as they can to one SSE client, coalescing off) runs on each in turn, alternating which
goes first in every round so that drift on a shared machine falls on both alike.  The figure is the
median of each mode's rounds and their ratio (goal: on ≥ 0.95 of off).  On a machine shared with other
work the throughput of one run swings more than metrics could cost, so each run also reports the CPU time
the router and mirror processes themselves spent per event (from /proc), which other load barely moves.

Usage: ``.venv/bin/python bench/bench_metrics.py [--rounds R] [--nodes N] [--events E]``.
Prints the figures, writes bench/results/metrics.json and prints the JSON as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import Pipeline, sustained  # noqa: E402
from services.bus.redis_bus import RedisEventBus  # noqa: E402
from tests.support.mirror_process import MirrorProcess  # noqa: E402
from tests.support.router_process import RouterProcess  # noqa: E402
from tests.support.servers import (  # noqa: E402
    create_database,
    delete_prefix,
    ensure_postgres,
    ensure_redis,
    unique_prefix,
)

MODES = ("on", "off")
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


async def measured(pipeline: Pipeline, nodes: int, events: int) -> dict[str, Any]:
    """One sustained run, plus the CPU microseconds per event the router and the mirror spent in it."""
    assert pipeline.router.process is not None
    pids = {"router": pipeline.router.process.pid, "mirror": pipeline.mirror.pid}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    figures = await sustained(pipeline, nodes, events)
    for name, pid in pids.items():
        figures[f"{name}_cpu_us_per_event"] = round((cpu_seconds(pid) - before[name]) * 1e6 / figures["events"], 1)
    return figures


def start_pipeline(stack: ExitStack, home: Path, pg: str, redis_url: str, metrics: str) -> Pipeline:
    url, drop = create_database(pg)
    stack.callback(drop)
    prefix = unique_prefix()
    stack.callback(delete_prefix, redis_url, prefix)
    env = {"CODESWARM_PROBE_INTERVAL_S": "30", "CODESWARM_METRICS": metrics}
    router = RouterProcess(home / "router", url, redis_url, prefix, env)
    router.home.mkdir(parents=True)
    stack.callback(router.stop_nodes)
    stack.callback(router.stop)
    router.start()
    mirror_env = {
        "CODESWARM_DELTA_COALESCE_MS": "0",
        "CODESWARM_SSE_CLIENT_QUEUE": "100000",
        "CODESWARM_METRICS": metrics,
    }
    mirror = MirrorProcess(home / "mirror", redis_url, prefix, router.url, mirror_env)
    stack.callback(mirror.stop)
    mirror.start()
    return Pipeline(router, mirror, RedisEventBus(redis_url, prefix))


async def main(rounds: int, nodes: int, events: int) -> dict[str, Any]:
    pg, redis_url = ensure_postgres(), ensure_redis()
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as home, ExitStack() as stack:
        pipelines = {
            mode: start_pipeline(stack, Path(home) / mode, pg, redis_url, "true" if mode == "on" else "false")
            for mode in MODES
        }
        async with AsyncExitStack() as buses:
            for pipeline in pipelines.values():
                buses.push_async_callback(pipeline.bus.close)
            await sustained(pipelines["off"], nodes, min(events, 10_000))  # warm both up, not counted
            await sustained(pipelines["on"], nodes, min(events, 10_000))
            for round_no in range(rounds):
                order = MODES if round_no % 2 == 0 else MODES[::-1]
                for mode in order:
                    runs[mode].append(await measured(pipelines[mode], nodes, events))
    medians = {mode: statistics.median(r["events_per_s"] for r in runs[mode]) for mode in MODES}
    cpu = {
        f"{service}_cpu_us_per_event": {
            mode: statistics.median(r[f"{service}_cpu_us_per_event"] for r in runs[mode]) for mode in MODES
        }
        for service in ("router", "mirror")
    }
    return {
        "bench": "metrics",
        "nodes": nodes,
        "events": events,
        "rounds": rounds,
        "events_per_s": {mode: [r["events_per_s"] for r in runs[mode]] for mode in MODES},
        "p99_ms": {mode: [r["p99_ms"] for r in runs[mode]] for mode in MODES},
        "median_events_per_s": medians,
        "ratio_on_to_off": round(medians["on"] / medians["off"], 3),
        "median_cpu": cpu,
        "cpu_ratio_on_to_off": round(
            sum(c["on"] for c in cpu.values()) / sum(c["off"] for c in cpu.values()),
            3,
        ),
    }


def report(results: dict[str, Any]) -> None:
    on, off = results["median_events_per_s"]["on"], results["median_events_per_s"]["off"]
    print(
        f"sustained pipeline, {results['nodes']} nodes, {results['events']} events, {results['rounds']} rounds: "
        f"metrics on {results['events_per_s']['on']} /s, off {results['events_per_s']['off']} /s"
    )
    print(f"medians: on {on:,.0f}/s, off {off:,.0f}/s, ratio {results['ratio_on_to_off']:.3f} (goal ≥ 0.95)")
    for name, by_mode in results["median_cpu"].items():
        print(f"{name.replace('_', ' ')}: on {by_mode['on']}, off {by_mode['off']}")
    print(f"CPU per event, router + mirror, on/off: {results['cpu_ratio_on_to_off']:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="sustained runs per mode")
    parser.add_argument("--nodes", type=int, default=2, help="mock nodes streaming")
    parser.add_argument("--events", type=int, default=60_000, help="deltas in each run")
    args = parser.parse_args()
    figures = asyncio.run(main(args.rounds, args.nodes, args.events))
    report(figures)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(figures).decode())
