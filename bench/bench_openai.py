"""The openai runtime's figures, against the fake OpenAI-compatible server of the tests.

- tool round trip: a node program (a real subprocess) whose model calls `shell` --calls times with
  zero delay; per round trip, the time from one model request to the next minus the command's own run
  time, i.e. what the node program adds (goal p50 <= 5 ms); and the node program's RSS (goal <= 30 MiB);
- scale: --nodes openai nodes through a router process (Postgres + Redis) and the mirror, one prompt
  each, the fake streaming 20 tokens/s per node: every node answers, every delta is counted at one SSE
  client, and the delta latency (node record -> client) p99 (goal <= 100 ms).

Usage: ``.venv/bin/python bench/bench_openai.py [--calls N] [--nodes M]``.
Prints the figures, writes bench/results/openai.json and prints the JSON as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_codex import Client, percentile, rss_kib  # noqa: E402
from mirror.app import create_app  # noqa: E402
from services.node.zipapp import build_zipapp  # noqa: E402
from services.settings import Settings  # noqa: E402
from tests.support.fake_chat import FakeChat  # noqa: E402
from tests.support.mirror_process import serve  # noqa: E402
from tests.support.node_process import Node  # noqa: E402
from tests.support.router_process import RouterProcess  # noqa: E402
from tests.support.servers import create_database, delete_prefix, ensure_postgres, ensure_redis, unique_prefix  # noqa: E402


def tool_round_trips(calls: int) -> dict[str, Any]:
    chat = FakeChat().start()
    with tempfile.TemporaryDirectory() as tmp:
        node = Node(build_zipapp(Path(tmp) / "bin"), Path(tmp) / "base")
        params = {"model": "fake-chat", "base_url": chat.base_url, "approval_policy": "never", "max_tool_calls": calls}
        node.start("--runtime", "openai", runtime_params=params)
        try:
            node.wait_record(lambda r: r["kind"] == "hello", "hello")
            injection = node.inject("[tools: " + "|".join(["true"] * calls) + "]")
            node.wait_turn_completed(injection, timeout=120)
            assert node.process is not None
            rss = rss_kib(node.process.pid) / 1024
            runs = [
                m["params"]["item"]["durationMs"]
                for m in node.runtime_messages(injection)
                if m.get("method") == "item/completed" and m["params"]["item"]["type"] == "commandExecution"
            ]
        finally:
            node.terminate()
            chat.stop()
    arrivals = [r.at for r in chat.requests if r.path.endswith("/chat/completions")]
    trips = [(b - a) * 1000 - run for a, b, run in zip(arrivals, arrivals[1:], runs, strict=False)]
    return {
        "calls": calls,
        "node_overhead_per_round_trip_ms": {"p50": statistics.median(trips), "p99": percentile(trips, 0.99)},
        "command_run_ms_p50": statistics.median(runs),
        "node_program_rss_mib": round(rss, 1),
    }


PROMPT = "stream a long answer " * 12  # about 45 deltas: 2 s of streaming at 20 a second


def parse_ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def many_nodes(nodes: int) -> dict[str, Any]:
    pg, redis_url = ensure_postgres(), ensure_redis()
    url, drop = create_database(pg)
    prefix = unique_prefix()
    chat = FakeChat(delay_s=0.05).start()  # 20 chunks (tokens) a second per stream
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        providers = Path(tmp) / "providers.toml"
        providers.write_text(
            f'[runtimes.openai]\nbase_url = "{chat.base_url}"\n\n'
            f'[[providers]]\nid = "local"\nbackend = "local"\nmax_nodes = {max(nodes, 64)}\nruntimes = ["openai"]\n'
        )
        router = RouterProcess(home, url, redis_url, prefix, extra_env={"CODESWARM_PROVIDERS_FILE": str(providers)})
        router.start()
        settings = Settings(
            home=Path(tmp) / "mirror", bus="redis", redis_url=redis_url, redis_prefix=prefix, router_url=router.url
        )
        try:
            async with serve(create_app(settings)) as mirror, httpx.AsyncClient(base_url=mirror, timeout=60) as http:
                client = Client(mirror)
                await client.start()
                body = {"nodes": nodes, "runtime": "openai", "runtime_params": {"model": "fake-chat"}}
                swarm_id = (await http.post("/v1/swarms", json=body)).json()["swarm_id"]
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    swarm = (await http.get(f"/v1/swarms/{swarm_id}")).json()
                    if swarm.get("status") == "running" and all(n["status"] == "idle" for n in swarm["nodes"]):
                        break
                    await asyncio.sleep(0.2)
                answer = await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": PROMPT})
                refs = answer.json()["injections"]
                for ref in refs:
                    await client.first("turn_complete", within=300, injection_id=ref["injection_id"])
                await http.post(f"/v1/swarms/{swarm_id}/terminate", json={})
                await client.stop()
        finally:
            router.stop()
            router.stop_nodes()
            chat.stop()
            delete_prefix(redis_url, prefix)
            drop()
    deltas = [(at, data, stamp) for at, name, data, stamp in client.seen if name == "assistant_delta"]
    texts: dict[int, str] = {}
    for _, data, _ in deltas:
        texts[data["node_id"]] = texts.get(data["node_id"], "") + data["delta"]
    complete = sum(1 for text in texts.values() if text == "Answer: " + PROMPT)
    latency = [(at - parse_ts(stamp)) * 1000 for at, _, stamp in deltas if stamp]
    return {
        "nodes": nodes,
        "answered_whole": complete,
        "assistant_deltas_received": len(deltas),
        "delta_latency_ms": {"p50": statistics.median(latency), "p99": percentile(latency, 0.99)} if latency else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=64)
    args = parser.parse_args()
    result = {"tools": tool_round_trips(args.calls), "many": asyncio.run(many_nodes(args.nodes))}
    tools, many = result["tools"], result["many"]
    print(
        f"tool round trip, node program's part: p50 {tools['node_overhead_per_round_trip_ms']['p50']:.2f} ms, "
        f"p99 {tools['node_overhead_per_round_trip_ms']['p99']:.2f} ms (goal p50 <= 5); command itself p50 "
        f"{tools['command_run_ms_p50']} ms; node RSS {tools['node_program_rss_mib']} MiB (goal <= 30)"
    )
    print(
        f"{many['nodes']} openai nodes: {many['answered_whole']} answered whole, "
        f"{many['assistant_deltas_received']} deltas at the client; delta latency {many['delta_latency_ms']}"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "openai.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
