"""The whole pipeline: mock nodes → router → Redis → mirror → SSE clients.

A real router process and a real mirror process on Postgres and Redis; the clients read the mirror's
``/v1/events`` over plain sockets (HTTP/1.0, so the body is the SSE text itself).  Latency is the
client's receipt time minus the node's own timestamp on the outbox record (the envelope's
``timestamp``, which has millisecond resolution, so every figure may read up to 1 ms high).
Coalescing is off (``delta_coalesce_ms=0``) so that every event counts as itself.

- sustained: ``--nodes`` mock nodes stream as fast as they can (``delay_ms=0``) to one client;
  events/s at the client, and its ratio to the raw ceiling (goal ≥ 20,000 events/s);
- paced: the nodes together at about 1,000 events/s to one client; latency p50/p99 (goal p99 ≤ 25 ms);
- fan-out: 1,000 clients on the one mirror, one node at 10 events/s; latency p99 (goal ≤ 100 ms);
- ceiling: plain redis-py pipelined XADD → XREAD from Python, same envelope size, in the same run.

Usage: ``.venv/bin/python bench/bench_pipeline.py [--nodes N] [--events E] [--clients C]``.
Prints the figures, writes bench/results/pipeline.json and prints the JSON as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.bench_bus import make_envelopes, raw_redis_case  # noqa: E402
from bench.bench_router import percentile, until_all_idle  # noqa: E402
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

DELTAS = (b"assistant_delta", b"reasoning_delta", b"command_output_delta")
RUN_DEADLINE_S = 600.0


class EpochClock:
    """Epoch seconds of the envelope's ``2026-11-24T16:18:17.123Z`` timestamps, the second part cached."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    def epoch(self, stamp: str) -> float:
        whole = stamp[:19]
        base = self._seconds.get(whole)
        if base is None:
            base = self._seconds[whole] = datetime.fromisoformat(whole + "+00:00").timestamp()
        return base + int(stamp[20:23]) / 1000


@dataclass
class StreamClient:
    """One SSE connection: counts events, keeps node → client latencies of deltas, sees turn ends."""

    host: str
    port: int
    swarm_id: str
    clock: EpochClock
    latencies_ms: list[float] = field(default_factory=list)
    events: int = 0
    turns_done: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def read_until(self, turns: int) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(
            f"GET /v1/events?swarm_id={self.swarm_id} HTTP/1.0\r\nHost: {self.host}:{self.port}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        buffer = b""
        try:
            head, _, buffer = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
                raise RuntimeError(f"the mirror refused the stream: {head[:200]!r}")
            self.connected.set()
            while self.turns_done < turns:
                chunk = await reader.read(1 << 16)
                if not chunk:
                    raise RuntimeError("the mirror closed the stream")
                received = time.time()
                blocks = (buffer + chunk).replace(b"\r\n", b"\n").split(b"\n\n")
                buffer = blocks.pop()
                for block in blocks:
                    self._take(block, received)
        finally:
            writer.close()

    def _take(self, block: bytes, received: float) -> None:
        data_at = block.find(b"\ndata: ")
        if data_at < 0:
            return  # a keep-alive comment
        envelope = orjson.loads(block[data_at + 7 :])
        self.events += 1
        self.first_at = self.first_at or received
        self.last_at = received
        name = envelope["event"].encode()
        if name in DELTAS:
            self.latencies_ms.append((received - self.clock.epoch(envelope["timestamp"])) * 1000)
        elif name == b"turn_complete":
            self.turns_done += 1


@dataclass
class Pipeline:
    router: RouterProcess
    mirror: MirrorProcess
    bus: RedisEventBus
    clock: EpochClock = field(default_factory=EpochClock)

    async def launch(self, http: httpx.AsyncClient, nodes: int, tokens: int, delay_ms: float) -> str:
        after = await self.bus.last_id()
        body = {"nodes": nodes, "runtime": "mock", "runtime_params": {"tokens": tokens, "delay_ms": delay_ms}}
        response = await http.post("/v1/swarms", json=body)
        response.raise_for_status()
        swarm_id: str = response.json()["swarm_id"]
        await until_all_idle(self.bus, after, swarm_id, nodes)
        return swarm_id

    async def run_turn(self, nodes: int, tokens: int, delay_ms: float, clients: int) -> list[StreamClient]:
        """Launch, connect the clients, inject one prompt into every node, read until every turn ends."""
        async with httpx.AsyncClient(base_url=self.mirror.url, timeout=60) as http:
            swarm_id = await self.launch(http, nodes, tokens, delay_ms)
            readers = [StreamClient("127.0.0.1", self.mirror.port, swarm_id, self.clock) for _ in range(clients)]
            async with asyncio.timeout(RUN_DEADLINE_S):
                tasks = [asyncio.create_task(reader.read_until(nodes)) for reader in readers]
                await asyncio.gather(*(reader.connected.wait() for reader in readers))
                inject = {"nodes": "all", "content": "x" * tokens}
                (await http.post(f"/v1/swarms/{swarm_id}/inject", json=inject)).raise_for_status()
                await asyncio.gather(*tasks)
            await http.post(f"/v1/swarms/{swarm_id}/terminate", json={})
        return readers


def latency_figures(readers: list[StreamClient]) -> dict[str, Any]:
    latencies = [ms for reader in readers for ms in reader.latencies_ms]
    return {
        "deltas": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
    }


async def sustained(pipeline: Pipeline, nodes: int, events: int) -> dict[str, Any]:
    (reader,) = await pipeline.run_turn(nodes, events // nodes, 0, 1)
    seconds = reader.last_at - reader.first_at
    return {
        "nodes": nodes,
        "events": reader.events,
        "seconds": round(seconds, 3),
        "events_per_s": round(reader.events / seconds),
        **latency_figures([reader]),
    }


async def paced(pipeline: Pipeline, nodes: int, rate: int, seconds: float) -> dict[str, Any]:
    delay_ms = 1000 * nodes / rate
    (reader,) = await pipeline.run_turn(nodes, int(seconds * rate / nodes), delay_ms, 1)
    elapsed = reader.last_at - reader.first_at
    return {"target_events_per_s": rate, "events_per_s": round(reader.events / elapsed), **latency_figures([reader])}


async def fan_out(pipeline: Pipeline, clients: int, rate: int, seconds: float) -> dict[str, Any]:
    readers = await pipeline.run_turn(1, int(seconds * rate), 1000 / rate, clients)
    return {"clients": clients, "events_per_s_per_client": rate, **latency_figures(readers)}


def raise_open_file_limit(wanted: int) -> None:
    """1,000 clients need 1,000 sockets here and in the mirror (which inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


async def main(nodes: int, events: int, clients: int) -> dict[str, Any]:
    raise_open_file_limit(clients * 2 + 1000)
    pg, redis_url = ensure_postgres(), ensure_redis()
    url, drop = create_database(pg)
    prefix = unique_prefix()
    results: dict[str, Any] = {"bench": "pipeline"}
    with tempfile.TemporaryDirectory() as home:
        router = RouterProcess(Path(home) / "router", url, redis_url, prefix, {"CODESWARM_PROBE_INTERVAL_S": "30"})
        router.home.mkdir()
        mirror_env = {"CODESWARM_DELTA_COALESCE_MS": "0", "CODESWARM_SSE_CLIENT_QUEUE": "100000"}
        mirror = MirrorProcess(Path(home) / "mirror", redis_url, prefix, router.url, mirror_env)
        bus = RedisEventBus(redis_url, prefix)
        try:
            router.start()
            mirror.start()
            pipeline = Pipeline(router, mirror, bus)
            results["sustained"] = await sustained(pipeline, nodes, events)
            results["paced_1000_per_s"] = await paced(pipeline, nodes, 1000, 10)
            results["fan_out"] = await fan_out(pipeline, clients, 10, 10)
            ceiling = await raw_redis_case(redis_url, f"{prefix}raw", make_envelopes(100_000, 400), 100)
            results["raw_redis_ceiling_events_per_s"] = ceiling.events_per_s
            results["sustained"]["ratio_to_ceiling"] = round(
                results["sustained"]["events_per_s"] / ceiling.events_per_s, 3
            )
        finally:
            await bus.close()
            mirror.stop()
            router.stop()
            router.stop_nodes()
            delete_prefix(redis_url, prefix)
            drop()
    return results


def report(results: dict[str, Any]) -> None:
    s, p, f = results["sustained"], results["paced_1000_per_s"], results["fan_out"]
    print(
        f"sustained: {s['events']} events from {s['nodes']} nodes in {s['seconds']:.2f}s = {s['events_per_s']:,}/s "
        f"(goal ≥ 20,000); raw Redis ceiling {results['raw_redis_ceiling_events_per_s']:,}/s, "
        f"ratio {s['ratio_to_ceiling']:.2f}; latency p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms"
    )
    print(
        f"paced at {p['target_events_per_s']}/s (measured {p['events_per_s']}/s): latency p50 {p['p50_ms']} ms, "
        f"p99 {p['p99_ms']} ms, max {p['max_ms']} ms (goal p99 ≤ 25 ms)"
    )
    print(
        f"fan-out: {f['clients']} clients at {f['events_per_s_per_client']}/s each: latency p50 {f['p50_ms']} ms, "
        f"p99 {f['p99_ms']} ms, max {f['max_ms']} ms over {f['deltas']} deliveries (goal p99 ≤ 100 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=2, help="mock nodes in the sustained and paced runs")
    parser.add_argument("--events", type=int, default=100_000, help="deltas in the sustained run")
    parser.add_argument("--clients", type=int, default=1000, help="SSE clients in the fan-out run")
    args = parser.parse_args()
    figures = asyncio.run(main(args.nodes, args.events, args.clients))
    report(figures)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(figures).decode())
