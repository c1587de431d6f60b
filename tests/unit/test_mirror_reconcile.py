"""Reconciliation against the router's list: the router wins, removals reach clients, a router that
does not answer leaves the mirror serving what it has (degraded), never dropping swarms."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from codeswarm.cli.sse import SseEvent
from mirror.app import create_app
from services.bus import MemoryEventBus
from services.protocol import make_envelope
from services.settings import Settings
from tests.support.mirror_process import free_port, serve, sse_events
from tests.support.servers import wait_until_async


def swarm(swarm_id: str, status: str = "running") -> dict[str, Any]:
    return {
        "swarm_id": swarm_id,
        "job_id": f"job-{swarm_id}",
        "alias": None,
        "provider": "local",
        "runtime": "mock",
        "node_count": 1,
        "status": status,
        "health": "ok",
        "reason": None,
        "created_at": f"2026-11-24T10:00:0{swarm_id[-1]}.000Z",
        "terminated_at": None,
        "nodes": [{"node_id": 0, "status": "idle", "last_heartbeat_at": None}],
    }


class ListingRouter:
    def __init__(self, swarms: list[dict[str, Any]]) -> None:
        self.swarms = swarms
        self.asked = 0
        self.app = FastAPI()
        self.app.add_api_route("/v1/swarms", self.list_swarms, methods=["GET"])

    async def list_swarms(self) -> dict[str, Any]:
        self.asked += 1
        return {"swarms": self.swarms}


@pytest.fixture
async def bus() -> AsyncIterator[MemoryEventBus]:
    the_bus = MemoryEventBus(10_000)
    yield the_bus
    await the_bus.close()


def settings_for(home: Path, router_port: int, **fields: Any) -> Settings:
    defaults: dict[str, Any] = {"reconcile_interval_s": 0.3, "delta_coalesce_ms": 0}
    return Settings(home=home, router_url=f"http://127.0.0.1:{router_port}", **{**defaults, **fields})


async def state_ids(http: httpx.AsyncClient) -> list[str]:
    return [s["swarm_id"] for s in (await http.get("/v1/state")).json()["swarms"]]


async def next_event(events: AsyncIterator[SseEvent], within: float) -> SseEvent:
    async def first_with_data() -> SseEvent:
        async for event in events:
            if event.data:
                return event
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(first_with_data(), within)


async def test_router_down_at_start_serves_what_it_has_then_reconciles(tmp_path: Path, bus: MemoryEventBus) -> None:
    router_port = free_port()
    listing = ListingRouter([swarm("sw-1"), swarm("sw-2")])
    # a first mirror learns the swarms from the router, and keeps a snapshot when it stops
    async with (
        serve(listing.app, router_port),
        serve(create_app(settings_for(tmp_path, router_port), bus)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        assert await state_ids(http) == ["sw-1", "sw-2"]

    # the router is down when the mirror starts again
    async with (
        serve(create_app(settings_for(tmp_path, router_port), bus)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "degraded"
        assert "router" in " ".join(ready.json()["reasons"])
        state = (await http.get("/v1/state")).json()
        assert [s["swarm_id"] for s in state["swarms"]] == ["sw-1", "sw-2"] and "router" in state["degraded"]
        # several failed reconciles later, still nothing dropped
        await wait_until_async(_failures_at_least(http, 3), 10, "three failed reconciles")
        assert await state_ids(http) == ["sw-1", "sw-2"]

        async with (
            serve(listing.app, router_port),
            http.stream("GET", "/v1/events") as stream,
        ):
            await wait_until_async(_ready(http), 10, "ready once the router answers")
            assert await state_ids(http) == ["sw-1", "sw-2"]
            # the router drops sw-2 (its TTL passed and, say, its event never reached this mirror)
            listing.swarms = [swarm("sw-1")]
            events = aiter(sse_events(stream))
            removed = await next_event(events, within=0.3 + 2.0)
            assert removed.event == "swarm_removed" and removed.id is None
            data = removed.json()["data"]
            assert data["swarm_id"] == "sw-2" and data["source"] == "mirror" and "no longer lists" in data["reason"]
            assert await state_ids(http) == ["sw-1"]


def _failures_at_least(http: httpx.AsyncClient, count: int) -> Any:
    async def check() -> bool:
        metrics = (await http.get("/metrics")).text
        line = next(x for x in metrics.splitlines() if x.startswith("codeswarm_mirror_reconcile_failures_total"))
        return float(line.split()[-1]) >= count

    return check


def _ready(http: httpx.AsyncClient) -> Any:
    async def check() -> bool:
        return (await http.get("/readyz")).status_code == 200

    return check


async def test_swarms_the_router_lists_are_added_and_corrected(tmp_path: Path, bus: MemoryEventBus) -> None:
    router_port = free_port()
    listing = ListingRouter([])
    async with (
        serve(listing.app, router_port),
        serve(create_app(settings_for(tmp_path, router_port), bus)) as url,
        httpx.AsyncClient(base_url=url) as http,
        http.stream("GET", "/v1/events") as stream,
    ):
        events = aiter(sse_events(stream))
        listing.swarms = [swarm("sw-3", "pending")]
        added = await next_event(events, within=3)
        assert added.event == "swarm_status" and added.json()["data"]["swarm"] == swarm("sw-3", "pending")
        listing.swarms = [swarm("sw-3", "running")]
        corrected = await next_event(events, within=3)
        assert corrected.json()["data"]["status"] == "running"
        assert (await http.get("/v1/state")).json()["swarms"] == [swarm("sw-3", "running")]


async def test_a_client_resuming_across_a_removal_gets_it(tmp_path: Path, bus: MemoryEventBus) -> None:
    router_port = free_port()
    listing = ListingRouter([swarm("sw-1"), swarm("sw-2")])
    async with (
        serve(listing.app, router_port),
        serve(create_app(settings_for(tmp_path, router_port), bus)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        (last_seen,) = await bus.publish([make_envelope("turn_started", {"swarm_id": "sw-1", "node_id": 0})])
        await wait_until_async(
            lambda: _position_is(http, last_seen), 5, "the mirror has read the entry the client saw last"
        )
        asked = listing.asked
        listing.swarms = [swarm("sw-1")]  # dropped while the client is away
        await wait_until_async(lambda: listing.asked > asked + 1, 5, "a reconcile after the drop")
        later = await bus.publish([make_envelope("turn_complete", {"swarm_id": "sw-1", "node_id": 0})])
        got: list[SseEvent] = []
        async with http.stream("GET", "/v1/events", headers={"Last-Event-ID": last_seen}) as stream:
            events = aiter(sse_events(stream))
            got.append(await next_event(events, 5))
            got.append(await next_event(events, 5))
    assert [(e.event, e.id) for e in got] == [("swarm_removed", None), ("turn_complete", later[0])]


async def _position_is(http: httpx.AsyncClient, entry_id: str) -> bool:
    return bool((await http.get("/v1/state")).json()["last_event_id"] == entry_id)


async def test_snapshot_survives_a_restart_without_a_router(tmp_path: Path, bus: MemoryEventBus) -> None:
    swarm_a = swarm("sw-5")
    await bus.publish([make_envelope("swarm_launched", {"swarm_id": "sw-5", "request_id": "rq-5", "swarm": swarm_a})])
    dead = free_port()
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(serve(create_app(settings_for(tmp_path, dead), bus)))
        async with httpx.AsyncClient(base_url=url) as http:
            assert await state_ids(http) == ["sw-5"]
            assert (await http.get("/v1/requests/rq-5")).json()["swarm_id"] == "sw-5"
    assert (tmp_path / "mirror-state.json").exists()
    fresh_bus = MemoryEventBus(10)  # even with the events gone, the snapshot has the swarm
    async with (
        serve(create_app(settings_for(tmp_path, dead), fresh_bus)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        assert await state_ids(http) == ["sw-5"]
        assert (await http.get("/v1/requests/rq-5")).json()["swarm_id"] == "sw-5"
