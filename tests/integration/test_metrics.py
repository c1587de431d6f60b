"""Prometheus metrics of the real router and mirror processes after a real swarm's turn (local provider,
mock agents, Postgres, Redis), and the Grafana dashboard's queries against what they expose."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from codeswarm.cli.sse import SseEvent
from tests.support.mirror_process import MirrorProcess, sse_events
from tests.support.router_process import RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until_async

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "codeswarm.json"
TOKEN = "metrics-test-token-" + "x" * 24
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[Samples, set[str]]:
    """Every sample by (name, labels), and every series name a query may use (families without samples
    included: a labelled counter nobody has touched yet still exists)."""
    samples: Samples = {}
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, names


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> tuple[Samples, set[str]]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


async def read_until_turns(mirror: httpx.AsyncClient, swarm_id: str, turns: int, seen: list[SseEvent]) -> None:
    async with mirror.stream("GET", "/v1/events", params={"swarm_id": swarm_id}) as response:
        assert response.status_code == 200
        async for event in sse_events(response):
            seen.append(event)
            if sum(e.event == "turn_complete" for e in seen) == turns:
                return


async def test_both_services_count_a_real_turn_and_the_dashboard_names_only_their_metrics(
    start_router: Callable[..., RouterProcess], tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    router = start_router(CODESWARM_API_TOKEN=TOKEN)
    env = {"CODESWARM_API_TOKEN": TOKEN, "CODESWARM_DELTA_COALESCE_MS": "0"}
    mirror_process = MirrorProcess(tmp_path / "mirror", redis_url, redis_prefix, router.url, env).start()
    try:
        async with (
            router.client(TOKEN) as router_http,
            httpx.AsyncClient(base_url=mirror_process.url, headers=HEADERS, timeout=15) as mirror_http,
        ):
            before, _ = await scrape(router_http)
            launch = {"nodes": 2, "runtime": "mock", "runtime_params": {"tokens": 5, "delay_ms": 0}}
            launched = await router_http.post("/v1/swarms", json=launch)
            assert launched.status_code == 202, launched.text
            swarm_id = launched.json()["swarm_id"]
            await wait_swarm(router_http, swarm_id, all_idle, 30)

            seen: list[SseEvent] = []
            reading = asyncio.create_task(read_until_turns(mirror_http, swarm_id, 2, seen))

            async def one_client() -> bool:
                return value((await scrape(mirror_http))[0], "codeswarm_mirror_sse_clients") == 1

            await wait_until_async(one_client, 15, "the SSE client connected")
            injected = await router_http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "hi"})
            assert injected.status_code == 202, injected.text
            await asyncio.wait_for(reading, 30)

            async def probed() -> bool:
                return (
                    value((await scrape(router_http))[0], "codeswarm_router_probe_seconds_count", cluster="local") >= 1
                )

            await wait_until_async(probed, 15, "a probe of the local cluster was timed")
            (r, router_names), (m, mirror_names) = await scrape(router_http), await scrape(mirror_http)

            # the router: what the nodes wrote, what the relay published, the launch and the injection
            assert value(r, "codeswarm_router_events_ingested_total", event="turn_complete") == 2
            assert value(r, "codeswarm_router_events_ingested_total", event="assistant_delta") >= 2
            assert value(r, "codeswarm_router_events_published_total", event="swarm_launched") == 1
            assert value(r, "codeswarm_router_events_published_total", event="inject_delivered") == 2
            assert value(r, "codeswarm_router_launches_total", provider="local") == 1
            assert value(r, "codeswarm_router_inject_delivery_seconds_count", provider="local") == 1
            ingested = sum(v for (name, _), v in r.items() if name == "codeswarm_router_events_ingested_total")
            lag_count = value(r, "codeswarm_router_ingest_lag_seconds_count")
            assert 0 < lag_count == ingested  # one observation per event
            assert value(r, "codeswarm_router_ingest_lag_seconds_bucket", le="+Inf") == lag_count
            assert value(r, "codeswarm_router_db_transaction_seconds_count") > value(
                before, "codeswarm_router_db_transaction_seconds_count"
            )
            assert value(r, "codeswarm_swarms", status="running") == 1
            assert value(r, "codeswarm_nodes", status="idle") == 2
            assert value(r, "codeswarm_ingested_records_total") > value(before, "codeswarm_ingested_records_total")
            assert value(r, "codeswarm_router_relay_backlog") == 0
            assert "codeswarm_router_launch_rejections_total" in router_names  # declared, none refused
            assert not any(name == "codeswarm_router_launch_rejections_total" for name, _ in r)

            # the mirror: every event the client got was counted by name (and maybe a few written after
            # the last one it read), live ones with their lag
            for event in {e.event for e in seen if e.id is not None}:
                counted = value(m, "codeswarm_mirror_events_delivered_total", event=event)
                assert counted >= sum(e.event == event for e in seen) > 0, event
            assert value(m, "codeswarm_mirror_events_delivered_total", event="turn_complete") == 2
            assert value(m, "codeswarm_mirror_delivery_lag_seconds_count") >= sum(e.id is not None for e in seen)
            assert value(m, "codeswarm_mirror_bus_entries_total") >= len(seen)
            assert value(m, "codeswarm_mirror_sse_replays_total") == 0

            async def client_gone() -> bool:
                return value((await scrape(mirror_http))[0], "codeswarm_mirror_sse_clients") == 0

            await wait_until_async(client_gone, 15, "the SSE client counted as gone")

            # a client resuming after an id is a replay
            first = next(e.id for e in seen if e.id is not None)
            async with mirror_http.stream(
                "GET", "/v1/events", params={"swarm_id": swarm_id}, headers={"Last-Event-ID": first}
            ) as resumed:
                async for _ in sse_events(resumed):
                    break
            assert value((await scrape(mirror_http))[0], "codeswarm_mirror_sse_replays_total") == 1

        # the dashboard loads as JSON and every metric its queries name is one the services expose
        dashboard = json.loads(DASHBOARD.read_text())
        queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
        used = {name for query in queries for name in re.findall(r"\bcodeswarm_[a-z_]+\b", query)}
        assert len(queries) >= 15 and used
        assert used <= router_names | mirror_names, sorted(used - router_names - mirror_names)
    finally:
        mirror_process.stop()
