"""How long the mirror's snapshot writer holds its event loop (the loop that fans events out as SSE).

    .venv/bin/python bench/bench_mirror_snapshot.py [--swarms 8] [--nodes 256] [--requests 50000] [--json F]

A read model of ``--swarms`` swarms of ``--nodes`` nodes and a full request ledger are saved as the
mirror saves them every few seconds, while a ticker on the same loop records how late it wakes
(``loop_stall_ms``: the longest gap beyond its 1 ms period; what one SSE write would wait).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from mirror.ledger import RequestLedger
from mirror.readmodel import ReadModel
from mirror.snapshot import SnapshotFile

TICK_S = 0.001
ROUNDS = 5


def filled(swarms: int, nodes: int, requests: int) -> tuple[ReadModel, RequestLedger]:
    model = ReadModel()
    for s in range(swarms):
        swarm_id = f"sw-{s:04d}"
        model.swarms[swarm_id] = {
            "swarm_id": swarm_id,
            "status": "running",
            "created_at": f"2026-12-02T10:{s % 60:02d}:00Z",
            "nodes": [
                {"node_id": n, "status": "idle", "last_heartbeat_at": "2026-12-02T10:00:00.000Z"} for n in range(nodes)
            ],
        }
    ledger = RequestLedger(capacity=requests)
    for r in range(requests):
        refs = [{"node_id": n, "injection_id": f"inj-{r}-{n}"} for n in range(2)]
        ledger.record(f"rq-{r:06d}", f"sw-{r % max(swarms, 1):04d}", "inject", refs)
    return model, ledger


async def one_save(snapshot: SnapshotFile, model: ReadModel, ledger: RequestLedger) -> tuple[float, float]:
    """(longest loop stall, wall time of the save), in ms."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            stalls.append(max(0.0, time.perf_counter() - before - TICK_S))

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    model.version += 1  # something changed since the last save
    started = time.perf_counter()
    await snapshot.save(model, ledger)
    wall = time.perf_counter() - started
    await asyncio.sleep(0.01)
    done.set()
    await ticking
    return max(stalls) * 1000, wall * 1000


async def bench(swarms: int, nodes: int, requests: int) -> dict[str, Any]:
    model, ledger = filled(swarms, nodes, requests)
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp:
        path = Path(tmp) / "mirror-state.json"
        snapshot = SnapshotFile(path, "bench")
        results = [await one_save(snapshot, model, ledger) for _ in range(ROUNDS)]
        size = path.stat().st_size
    return {
        "swarms": swarms,
        "nodes": nodes,
        "requests": requests,
        "snapshot_bytes": size,
        "loop_stall_ms_median": round(statistics.median(r[0] for r in results), 1),
        "loop_stall_ms_max": round(max(r[0] for r in results), 1),
        "save_wall_ms_median": round(statistics.median(r[1] for r in results), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--swarms", type=int, default=8)
    parser.add_argument("--nodes", type=int, default=256)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = asyncio.run(bench(args.swarms, args.nodes, args.requests))
    for name, value in figures.items():
        print(f"{name:>22}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
