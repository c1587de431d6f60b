"""What Codeswarm adds to a codex turn, measured at an SSE client, with the real codex binary.

Split mode: a router process on Postgres + Redis, the mirror in this process, one SSE client reading
`GET /v1/events`; codex answers from a local fake Responses API with zero delay.

- turn overhead: (POST inject → `turn_complete` read by the client) minus codex's own turn time
  (`durationMs` of its `turn/completed`: turn/start → turn/completed inside codex), over --turns turns
  on one node (goal p50 ≤ 10 ms);
- first-delta overhead: (POST inject → first `assistant_delta` read by the client) minus codex's own
  time to its first delta (`emittedAtMs` of that delta minus that of `turn/started`) (goal ≤ 10 ms);
- memory: RSS of the node program and of the codex it drives (goal node ≤ 30 MiB);
- scale: --many codex nodes launched at once on this machine, one prompt each: how many answer.

Usage: ``.venv/bin/python bench/bench_codex.py [--turns N] [--many M]`` (needs `make codex`).
Prints the figures, writes bench/results/codex.json and prints the JSON as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mirror.app import create_app  # noqa: E402
from router.providers.registry import PROJECT_CODEX  # noqa: E402
from services.settings import Settings  # noqa: E402
from tests.support.fake_responses import FakeResponses  # noqa: E402
from tests.support.mirror_process import serve  # noqa: E402
from tests.support.router_process import RouterProcess  # noqa: E402
from tests.support.servers import create_database, delete_prefix, ensure_postgres, ensure_redis, unique_prefix  # noqa: E402

MODEL = {"model": "fake-model", "approval_policy": "never", "sandbox": "danger-full-access"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Client:
    """An SSE client of the mirror that timestamps every event as it reads it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: list[tuple[float, str, dict[str, Any], str]] = []  # (read at, event, data, envelope timestamp)
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async with (
            httpx.AsyncClient(timeout=None) as http,
            http.stream("GET", f"{self.url}/v1/events") as response,
        ):
            name, data = "", ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif not line and data:
                    envelope = json.loads(data)
                    self.seen.append((time.time(), name, envelope["data"], envelope.get("timestamp") or ""))
                    self.changed.set()
                    name, data = "", ""

    async def first(self, name: str, within: float = 60, **match: Any) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + within
        while True:
            for at, seen_name, data, _ in self.seen:
                if seen_name == name and all(data.get(k) == v for k, v in match.items()):
                    return at, data
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {name} {match} within {within} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def launch(http: httpx.AsyncClient, client: Client, nodes: int) -> str:
    answer = await http.post("/v1/swarms", json={"nodes": nodes, "runtime": "codex", "runtime_params": MODEL})
    answer.raise_for_status()
    swarm_id: str = answer.json()["swarm_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        swarm = (await http.get(f"/v1/swarms/{swarm_id}")).json()
        if swarm.get("status") == "running" and all(n["status"] == "idle" for n in swarm["nodes"]):
            return swarm_id
        await asyncio.sleep(0.1)
    raise TimeoutError(f"swarm {swarm_id} did not come up: {swarm}")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def node_and_codex_rss(home: Path) -> tuple[float, float]:
    pid_file = next((home / "local" / "runs").glob("*/control/node_00.pid"))
    node_pid = int(pid_file.read_text())
    children = Path(f"/proc/{node_pid}/task/{node_pid}/children").read_text().split()
    codex = sum(rss_kib(int(child)) for child in children)
    return rss_kib(node_pid) / 1024, codex / 1024


async def bench(turns: int, many: int) -> dict[str, Any]:
    pg, redis_url = ensure_postgres(), ensure_redis()
    url, drop = create_database(pg)
    prefix = unique_prefix()
    fake = FakeResponses().start()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        providers = Path(tmp) / "providers.toml"
        providers.write_text(
            f'[runtimes.codex]\nbase_url = "{fake.base_url}"\n\n'
            '[[providers]]\nid = "local"\nbackend = "local"\nmax_nodes = 64\nruntimes = ["mock", "codex"]\n'
        )
        router = RouterProcess(home, url, redis_url, prefix, extra_env={"CODESWARM_PROVIDERS_FILE": str(providers)})
        router.start()
        settings = Settings(
            home=Path(tmp) / "mirror",
            bus="redis",
            redis_url=redis_url,
            redis_prefix=prefix,
            router_url=router.url,
            delta_coalesce_ms=0,
        )
        try:
            async with serve(create_app(settings)) as mirror, httpx.AsyncClient(base_url=mirror, timeout=60) as http:
                client = Client(mirror)
                await client.start()
                swarm_id = await launch(http, client, 1)
                turn_overhead, first_overhead, codex_turn, codex_first = [], [], [], []
                to_codex, from_codex = [], []  # inject → codex's turn/started; codex's turn/completed → client
                for index in range(turns + 1):
                    started = time.time()
                    answer = await http.post(
                        f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": f"hi {index}"}
                    )
                    answer.raise_for_status()
                    injection_id = answer.json()["injections"][0]["injection_id"]
                    ended_at, ended = await client.first("turn_complete", injection_id=injection_id)
                    first_at, first = await client.first("assistant_delta", injection_id=injection_id)
                    _, started_event = await client.first("turn_started", injection_id=injection_id)
                    own_turn = float(ended["duration_ms"])
                    own_first = float(first["raw"]["emittedAtMs"] - started_event["raw"]["emittedAtMs"])
                    if index == 0:
                        continue  # codex's first turn warms its caches; not a steady-state figure
                    to_codex.append(started_event["raw"]["emittedAtMs"] - started * 1000)
                    from_codex.append(ended_at * 1000 - ended["raw"]["emittedAtMs"])
                    codex_turn.append(own_turn)
                    codex_first.append(own_first)
                    turn_overhead.append((ended_at - started) * 1000 - own_turn)
                    first_overhead.append((first_at - started) * 1000 - own_first)
                node_mib, codex_mib = node_and_codex_rss(home)
                await http.post(f"/v1/swarms/{swarm_id}/terminate", json={})

                began = time.perf_counter()
                big = await launch(http, client, many)
                up_s = time.perf_counter() - began
                answer = await http.post(f"/v1/swarms/{big}/inject", json={"nodes": "all", "content": "hello all"})
                refs = answer.json()["injections"]
                began = time.perf_counter()
                done = 0
                for ref in refs:
                    _, data = await client.first("turn_complete", within=120, injection_id=ref["injection_id"])
                    done += data["status"] == "completed"
                all_s = time.perf_counter() - began
                await http.post(f"/v1/swarms/{big}/terminate", json={})
                await client.stop()
        except Exception:
            print(router.log_tail(), file=sys.stderr)
            raise
        finally:
            router.stop()
            router.stop_nodes()
            fake.stop()
            delete_prefix(redis_url, prefix)
            drop()
    return {
        "conditions": f"split mode (router process, Postgres + Redis, mirror in-process), codex {PROJECT_CODEX.name} "
        f"0.169.0 against a zero-delay fake Responses API, one SSE client, {turns} turns after a warm-up",
        "turn_overhead_ms": {"p50": statistics.median(turn_overhead), "p99": percentile(turn_overhead, 0.99)},
        "first_delta_overhead_ms": {"p50": statistics.median(first_overhead), "p99": percentile(first_overhead, 0.99)},
        "codex_own_turn_ms_p50": statistics.median(codex_turn),
        "inject_to_codex_turn_started_ms_p50": statistics.median(to_codex),
        "codex_turn_completed_to_client_ms_p50": statistics.median(from_codex),
        "codex_own_first_delta_ms_p50": statistics.median(codex_first),
        "node_program_rss_mib": round(node_mib, 1),
        "codex_rss_mib": round(codex_mib, 1),
        "many": {"nodes": many, "answered": done, "all_idle_s": round(up_s, 2), "all_answered_s": round(all_s, 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--many", type=int, default=16)
    args = parser.parse_args()
    if not PROJECT_CODEX.is_file():
        sys.exit(f"codex is not installed at {PROJECT_CODEX}: run `make codex`")
    result = asyncio.run(bench(args.turns, args.many))
    print(f"conditions: {result['conditions']}")
    for key in ("turn_overhead_ms", "first_delta_overhead_ms"):
        print(f"{key}: p50 {result[key]['p50']:.2f}  p99 {result[key]['p99']:.2f}  (goal p50 <= 10)")
    print(
        f"codex's own: turn p50 {result['codex_own_turn_ms_p50']:.1f} ms, first delta p50 "
        f"{result['codex_own_first_delta_ms_p50']:.1f} ms"
    )
    print(
        f"where: inject → codex's turn/started p50 {result['inject_to_codex_turn_started_ms_p50']:.1f} ms; "
        f"codex's turn/completed → client p50 {result['codex_turn_completed_to_client_ms_p50']:.1f} ms"
    )
    print(f"RSS: node program {result['node_program_rss_mib']} MiB (goal <= 30), codex {result['codex_rss_mib']} MiB")
    many = result["many"]
    print(
        f"{many['nodes']} codex nodes: {many['answered']} answered; all idle after {many['all_idle_s']} s, "
        f"all answered {many['all_answered_s']} s after the prompt"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "codex.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
