"""Event bus throughput and publish→read latency.

One task publishes N envelopes of about ``--size`` bytes in batches of ``--batch`` while another reads
them (blocking reads of up to 1000 entries); the publisher runs flat out, so the latency figures are
those of a saturated bus.  Latency = read time minus the moment the envelope's batch was handed to
publish (stamped in the envelope), decode included.  Cases:

- ``redis-py``: plain pipelined XADD (no MULTI) and XREAD — the floor for Python on this Redis;
- ``RedisEventBus``: the same through the bus (its publish script, byte and entry trim included,
  ``read_after``);
- ``MemoryEventBus``: the in-process bus of the embedded mode;
- ``redis-py Lua XADD``: for comparison, a bare server-side script (EVALSHA) of XADDs with none of the
  bus's bookkeeping — one command per batch instead of one per entry on the client side.

It also measures what ``MemoryEventBus`` holds per entry: the growth of this process's RSS while it
retains N envelopes (already encoded, as the router publishes them), divided by N.

Usage: ``.venv/bin/python bench/bench_bus.py [--events N] [--batch B] [--size BYTES]``.  Prints a
table, writes bench/results/bus.json and prints the same JSON as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `tests.support` importable
    sys.path.insert(0, str(ROOT))

from services.bus import START_ID, EventBus, MemoryEventBus, RedisEventBus  # noqa: E402
from tests.support.servers import delete_prefix, ensure_redis  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "bus.json"
READ_COUNT = 1000
DEADLINE_S = 300.0

Publish = Callable[[list[dict[str, Any]]], Awaitable[object]]
Read = Callable[[str], Awaitable[list[tuple[str, bytes]]]]


@dataclass
class CaseResult:
    case: str
    events: int
    seconds: float
    events_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float


def make_envelopes(count: int, size: int) -> list[dict[str, Any]]:
    """Envelopes shaped like an assistant_delta, padded so each encodes to about ``size`` bytes."""
    envelopes = []
    for n in range(count):
        data = {"swarm_id": "sw-0123456789ab", "job_id": "4242", "node_id": n % 8, "injection_id": "in-1"}
        envelope: dict[str, Any] = {
            "protocol": "codeswarm.router.v1",
            "type": "event",
            "id": f"ev{n:x}",
            "timestamp": "2026-11-24T16:18:17.123Z",
            "event": "assistant_delta",
            "data": {**data, "sent_ns": 0, "delta": ""},
        }
        envelope["data"]["delta"] = "x" * max(0, size - len(orjson.dumps(envelope)))
        envelopes.append(envelope)
    return envelopes


async def run_case(name: str, publish: Publish, read: Read, envelopes: list[dict[str, Any]], batch: int) -> CaseResult:
    total = len(envelopes)
    latencies_ns: list[int] = []

    async def consume() -> None:
        after = START_ID
        while len(latencies_ns) < total:
            entries = await read(after)
            now = time.perf_counter_ns()
            latencies_ns.extend(now - orjson.loads(data)["data"]["sent_ns"] for _, data in entries)
            if entries:
                after = entries[-1][0]

    async def produce() -> None:
        for start in range(0, total, batch):
            chunk = envelopes[start : start + batch]
            stamp = time.perf_counter_ns()
            for envelope in chunk:
                envelope["data"]["sent_ns"] = stamp
            await publish(chunk)
            await asyncio.sleep(0)  # the in-process bus never yields on its own

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    began = time.perf_counter()
    async with asyncio.timeout(DEADLINE_S):
        await produce()
        await consumer
    seconds = time.perf_counter() - began
    latencies_ns.sort()

    def percentile(q: float) -> float:
        return round(latencies_ns[min(len(latencies_ns) - 1, int(q * len(latencies_ns)))] / 1e6, 3)

    return CaseResult(
        name, total, round(seconds, 3), round(total / seconds), percentile(0.50), percentile(0.99), percentile(1.0)
    )


LUA_XADD = """local ids = {}
for i = 2, #ARGV do ids[i - 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'd', ARGV[i]) end
return ids"""


async def raw_redis_case(
    url: str, key: str, envelopes: list[dict[str, Any]], batch: int, lua: bool = False
) -> CaseResult:
    redis = Redis.from_url(url, decode_responses=False)
    await redis.ping()
    maxlen = len(envelopes) + 10_000
    script = redis.register_script(LUA_XADD)

    async def publish(chunk: list[dict[str, Any]]) -> None:
        if lua:
            await script(keys=[key], args=[maxlen, *map(orjson.dumps, chunk)])
            return
        async with redis.pipeline(transaction=False) as pipe:
            for envelope in chunk:
                pipe.xadd(key, {b"d": orjson.dumps(envelope)}, maxlen=maxlen, approximate=True)
            await pipe.execute()

    async def read(after: str) -> list[tuple[str, bytes]]:
        reply: Any = await redis.xread({key: after}, count=READ_COUNT, block=1000)
        return [(entry_id.decode(), fields[b"d"]) for _, entries in reply or [] for entry_id, fields in entries]

    try:
        name = "redis-py Lua XADD" if lua else "redis-py XADD/XREAD"
        return await run_case(name, publish, read, envelopes, batch)
    finally:
        await redis.aclose()


async def bus_case(name: str, bus: EventBus, envelopes: list[dict[str, Any]], batch: int) -> CaseResult:
    await bus.ping()

    async def read(after: str) -> list[tuple[str, bytes]]:
        return [(entry.id, entry.data) for entry in await bus.read_after(after, READ_COUNT, block_ms=1000)]

    try:
        return await run_case(name, bus.publish, read, envelopes, batch)
    finally:
        await bus.close()


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def memory_per_entry(envelopes: list[dict[str, Any]], batch: int) -> dict[str, int]:
    """RSS growth per entry while a MemoryEventBus retains every envelope (encoded beforehand)."""
    encoded = [orjson.dumps(envelope) for envelope in envelopes]
    bus = MemoryEventBus(len(encoded), max_bytes=1 << 40)
    gc.collect()
    before = _rss_bytes()
    for start in range(0, len(encoded), batch):
        await bus.publish(encoded[start : start + batch])
    gc.collect()
    grown = _rss_bytes() - before
    await bus.close()
    return {"entries": len(encoded), "payload_bytes": len(encoded[0]), "rss_bytes_per_entry": grown // len(encoded)}


async def main(events: int, batch: int, size: int) -> dict[str, Any]:
    url = ensure_redis()
    prefix = f"csbench:{secrets.token_hex(4)}:"
    envelopes = make_envelopes(events, size)
    maxlen = events + 10_000
    try:
        results = [
            await raw_redis_case(url, f"{prefix}raw", envelopes, batch),
            await bus_case("RedisEventBus", RedisEventBus(url, prefix, maxlen), envelopes, batch),
            await bus_case("MemoryEventBus", MemoryEventBus(maxlen), envelopes, batch),
            await raw_redis_case(url, f"{prefix}lua", envelopes, batch, lua=True),
        ]
        probe = Redis.from_url(url)
        info = await probe.info("server")
        await probe.aclose()
    finally:
        delete_prefix(url, prefix)
    return {
        "bench": "bus",
        "events": events,
        "batch": batch,
        "payload_bytes": len(orjson.dumps(envelopes[0])),
        "redis_version": info.get("redis_version"),
        "python": platform.python_version(),
        "results": [asdict(result) for result in results],
        "memory_bus": await memory_per_entry(envelopes, batch),
    }


def report(figures: dict[str, Any]) -> None:
    print(
        f"{figures['events']} events of {figures['payload_bytes']} B, batches of {figures['batch']}, "
        f"Redis {figures['redis_version']}, Python {figures['python']}"
    )
    print(f"{'case':<22}{'events/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'seconds':>10}")
    for r in figures["results"]:
        print(
            f"{r['case']:<22}{r['events_per_s']:>12,}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}"
            f"{r['max_ms']:>10.2f}{r['seconds']:>10.2f}"
        )
    held = figures["memory_bus"]
    print(
        f"MemoryEventBus holds {held['rss_bytes_per_entry']:,} B of RSS per entry "
        f"({held['entries']:,} entries of {held['payload_bytes']} B)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100, help="envelopes per publish call")
    parser.add_argument("--size", type=int, default=300, help="approximate bytes per envelope")
    args = parser.parse_args()
    figures = asyncio.run(main(args.events, args.batch, args.size))
    report(figures)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")
    print(orjson.dumps(figures).decode())
