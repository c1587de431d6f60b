"""The spine's figures: launch → all nodes idle, inject → inject_delivered, and ingest throughput.

- launch: a real router process (Postgres + Redis), 8 local mock nodes, from `POST /v1/swarms` to the
  last node's `node_status idle` on the bus (goal ≤ 1 s); the median of --launches runs.
- inject: one injection at a time into one node, from sending the POST to reading `inject_delivered`
  from the bus (goal p50 ≤ 10 ms).
- ingest: the router's own ingest path in-process (LocalOutboxFollower → Ingest → translate → bus, with
  the durable transcript committed to Postgres) over outbox files of 4 nodes already written in the
  mock's codex shapes, from the first read to the last record's cursor on the bus (goal ≥ 30,000/s).

Usage: ``.venv/bin/python bench/bench_router.py [--records N] [--launches K] [--injects M]``.
Prints the figures, writes bench/results/router.json and prints the JSON as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from router.ingest import Ingest  # noqa: E402
from router.providers.local.outbox_poller import LocalOutboxFollower  # noqa: E402
from router.store.database import Database  # noqa: E402
from router.store.migrate import upgrade  # noqa: E402
from router.store.swarms import create_nodes, now  # noqa: E402
from router.store.tables import NodeRow, SwarmRow  # noqa: E402
from router.transcript import Transcript  # noqa: E402
from services.bus.base import START_ID  # noqa: E402
from services.bus.redis_bus import RedisEventBus  # noqa: E402
from services.node.records import outbox_path  # noqa: E402
from tests.support.router_process import RouterProcess  # noqa: E402
from tests.support.servers import create_database, delete_prefix, ensure_postgres, ensure_redis, unique_prefix  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def wait_event(bus: RedisEventBus, after: str, match: Any) -> tuple[str, float]:
    """Block on the bus until an envelope satisfies match; returns (its id, when it was read)."""
    while True:
        for entry in await bus.read_after(after, count=1000, block_ms=5000):
            after = entry.id
            if match(entry.envelope()):
                return after, time.perf_counter()


async def bench_launch_and_inject(pg: str, redis_url: str, launches: int, injects: int) -> dict[str, Any]:
    url, drop = create_database(pg)
    prefix = unique_prefix()
    with tempfile.TemporaryDirectory() as home:
        router = RouterProcess(Path(home), url, redis_url, prefix, extra_env={"CODESWARM_PROBE_INTERVAL_S": "30"})
        router.start()
        bus = RedisEventBus(redis_url, prefix)
        launch_s: list[float] = []
        inject_ms: list[float] = []
        try:
            async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
                for _ in range(launches):
                    after = await bus.last_id()
                    started = time.perf_counter()
                    swarm_id = (await client.post("/v1/swarms", json={"nodes": 8})).json()["swarm_id"]
                    await until_all_idle(bus, after, swarm_id, 8)
                    launch_s.append(time.perf_counter() - started)
                    await client.post(f"/v1/swarms/{swarm_id}/terminate", json={})
                swarm_id = (await client.post("/v1/swarms", json={"nodes": 1})).json()["swarm_id"]
                await until_all_idle(bus, START_ID, swarm_id, 1)
                for i in range(injects):
                    after = await bus.last_id()
                    started = time.perf_counter()
                    response = await client.post(
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
                await client.post(f"/v1/swarms/{swarm_id}/terminate", json={})
        finally:
            await bus.close()
            router.stop()
            router.stop_nodes()
            delete_prefix(redis_url, prefix)
            drop()
    return {
        "launch_8_nodes_to_idle_s": {
            "median": statistics.median(launch_s),
            "min": min(launch_s),
            "max": max(launch_s),
            "runs": len(launch_s),
        },
        "inject_to_delivered_ms": {
            "p50": percentile(inject_ms, 0.5),
            "p99": percentile(inject_ms, 0.99),
            "n": len(inject_ms),
        },
    }


async def until_all_idle(bus: RedisEventBus, after: str, swarm_id: str, nodes: int) -> None:
    latest: dict[int, str] = {}
    while sum(status == "idle" for status in latest.values()) < nodes:
        for entry in await bus.read_after(after, count=1000, block_ms=5000):
            after = entry.id
            envelope = entry.envelope()
            if envelope["event"] == "node_status" and envelope["data"]["swarm_id"] == swarm_id:
                latest[envelope["data"]["node_id"]] = envelope["data"]["status"]


def write_outboxes(base: Path, job_id: str, nodes: int, records: int) -> None:
    """records per node in the mock's shapes: a turn of agentMessage deltas framed by its items."""
    (base / "mailbox" / "outbox").mkdir(parents=True)
    for node_id in range(nodes):
        lines = []
        for seq in range(1, records + 1):
            payload: dict[str, Any]
            if seq == 1:
                payload = {
                    "method": "turn/started",
                    "params": {"threadId": "t", "turn": {"id": "turn-1", "status": "inProgress"}},
                }
            elif seq == records:
                payload = {
                    "method": "turn/completed",
                    "params": {"threadId": "t", "turn": {"id": "turn-1", "status": "completed"}},
                }
            else:
                payload = {
                    "method": "item/agentMessage/delta",
                    "params": {"threadId": "t", "turnId": "turn-1", "itemId": "msg-1", "delta": f" token{seq}"},
                    "emittedAtMs": 1795527514977,
                }
            record = {
                "seq": seq,
                "ts": time.time(),
                "job_id": job_id,
                "node_id": node_id,
                "injection_id": "in-1",
                "kind": "runtime",
                "payload": payload,
            }
            lines.append(orjson.dumps(record))
        Path(outbox_path(str(base), job_id, node_id)).write_bytes(b"\n".join(lines) + b"\n")


async def bench_ingest(pg: str, redis_url: str, records: int, nodes: int = 4) -> dict[str, Any]:
    url, drop = create_database(pg)
    prefix = unique_prefix()
    await upgrade(url)
    db = Database(url)
    bus = RedisEventBus(redis_url, prefix, maxlen=records * nodes * 2)
    job_id = "bench-job"
    try:
        async with db.transaction() as session:
            swarm = SwarmRow(
                swarm_id="sw-bench",
                job_id=job_id,
                request_id="rq",
                cluster="local",
                provider="local",
                runtime="mock",
                node_count=nodes,
                status="running",
                health="ok",
                provider_params={},
                runtime_params={},
                download_workspaces=False,
                created_at=now(),
                updated_at=now(),
            )
            session.add(swarm)
            await session.flush()
            create_nodes(session, "sw-bench", nodes)
        ingest = Ingest(db, bus, Transcript(65536))
        with tempfile.TemporaryDirectory() as base:
            write_outboxes(Path(base), job_id, nodes, records)
            async with db.transaction() as session:
                rows = [await session.get(NodeRow, ("sw-bench", n)) for n in range(nodes)]
            tracked = await ingest.track("sw-bench", job_id, [r for r in rows if r is not None])
            follower = LocalOutboxFollower(base, ingest.handle, poll_s=0.001)
            follower.follow(job_id, dict.fromkeys(range(nodes), 0))
            started = time.perf_counter()
            follower.start()
            while any(n.committed_seq < records for n in tracked):
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - started
            await follower.stop()
        on_bus = len(await bus.read_after(START_ID, count=records * nodes * 2))
    finally:
        await bus.close()
        await db.close()
        delete_prefix(redis_url, prefix)
        drop()
    total = records * nodes
    return {"records": total, "events_on_bus": on_bus, "seconds": elapsed, "records_per_s": total / elapsed}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=50_000, help="outbox records per node (4 nodes)")
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--injects", type=int, default=100)
    args = parser.parse_args()
    pg, redis_url = ensure_postgres(), ensure_redis()
    results: dict[str, Any] = {"ingest": await bench_ingest(pg, redis_url, args.records)}
    results.update(await bench_launch_and_inject(pg, redis_url, args.launches, args.injects))
    ingest = results["ingest"]
    rate = ingest["records_per_s"]
    print(f"ingest: {ingest['records']} records in {ingest['seconds']:.2f}s = {rate:,.0f} records/s (goal ≥ 30,000)")
    launch = results["launch_8_nodes_to_idle_s"]
    spread = f"min {launch['min']:.3f}, max {launch['max']:.3f}"
    print(f"launch 8 nodes → all idle: median {launch['median']:.3f}s ({spread}; goal ≤ 1 s)")
    inject = results["inject_to_delivered_ms"]
    print(f"inject → inject_delivered: p50 {inject['p50']:.2f} ms, p99 {inject['p99']:.2f} ms (goal p50 ≤ 10 ms)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "router.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(results).decode())


if __name__ == "__main__":
    asyncio.run(main())
