"""The router's ingest path alone, in CPU time: what one event costs the router, whatever else runs.

The in-process ingest case of bench_router (LocalOutboxFollower → Ingest → translate → Redis, the
durable transcript and offsets committed to Postgres; 4 nodes of mock-shaped delta records), repeated
--runs times.  Besides records/s (wall clock, which depends on what else the machine runs) it gives the
CPU time spent in ``Ingest.handle`` per 1,000 records (the process's CPU time while a call runs, so it
also counts what the follower does while ingest waits on Redis or Postgres), which is what a change to
the hot path moves even on shared cores.  ``--profile`` prints the top functions of one more run
(cProfile, by own time).

Usage: ``.venv/bin/python bench/bench_ingest.py [--records N] [--runs K] [--profile]``.
Prints the figures, writes bench/results/ingest.json and prints the JSON as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench import bench_router  # noqa: E402
from router.ingest import LOCAL_CLUSTER, Ingest  # noqa: E402
from router.providers.base import OutboxLines  # noqa: E402
from tests.support.servers import ensure_postgres, ensure_redis  # noqa: E402


class TimedIngest(Ingest):
    """Ingest that adds up the process's CPU time while its handle() runs."""

    cpu_s = 0.0

    async def handle(self, chunks: Sequence[OutboxLines], cluster: str = LOCAL_CLUSTER) -> None:
        started = time.process_time()
        try:
            await super().handle(chunks, cluster)
        finally:
            TimedIngest.cpu_s += time.process_time() - started


async def timed_run(pg: str, redis_url: str, records: int) -> dict[str, Any]:
    TimedIngest.cpu_s = 0.0
    figures = await bench_router.bench_ingest(pg, redis_url, records)
    return {
        "records_per_s": round(figures["records_per_s"]),
        "cpu_ms_per_1000": round(TimedIngest.cpu_s / figures["records"] * 1_000_000, 1),
    }


async def main(records: int, runs: int, profile: bool) -> dict[str, Any]:
    pg, redis_url = ensure_postgres(), ensure_redis()
    bench_router.Ingest = TimedIngest  # type: ignore[misc]
    cases = [await timed_run(pg, redis_url, records) for _ in range(runs)]
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await bench_router.bench_ingest(pg, redis_url, records)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return {
        "bench": "ingest",
        "records_per_run": records * 4,
        "runs": cases,
        "median_records_per_s": statistics.median(c["records_per_s"] for c in cases),
        "median_cpu_ms_per_1000": statistics.median(c["cpu_ms_per_1000"] for c in cases),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=25_000, help="outbox records per node (4 nodes)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (the median is reported)")
    parser.add_argument("--profile", action="store_true", help="profile one more run and print the top functions")
    args = parser.parse_args()
    figures = asyncio.run(main(args.records, args.runs, args.profile))
    print(
        f"ingest: {figures['records_per_run']} records per run, median {figures['median_records_per_s']:,} records/s, "
        f"{figures['median_cpu_ms_per_1000']} ms of router CPU per 1,000 records"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ingest.json").write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(figures).decode())
