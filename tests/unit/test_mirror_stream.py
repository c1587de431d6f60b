"""GET /v1/events and GET /v1/state on a real socket (uvicorn in-process, in-process bus)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from codeswarm.cli.sse import SseEvent
from mirror.app import create_app
from services.bus import MemoryEventBus
from services.protocol import make_envelope
from services.settings import Settings
from tests.support.mirror_process import free_port, serve, sse_events

Start = Callable[..., Awaitable[str]]


@pytest.fixture
async def bus() -> AsyncIterator[MemoryEventBus]:
    the_bus = MemoryEventBus(100_000)
    yield the_bus
    await the_bus.close()


@pytest.fixture
async def start_mirror(tmp_path: Path, bus: MemoryEventBus) -> AsyncIterator[Start]:
    """start_mirror(on=None, **settings) → base URL of a mirror on ``bus`` (or ``on``); no router answers,
    so it stays degraded."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(on: MemoryEventBus | None = None, **fields: Any) -> str:
            defaults: dict[str, Any] = {
                "home": tmp_path,
                "router_url": f"http://127.0.0.1:{free_port()}",
                "delta_coalesce_ms": 0,
            }
            settings = Settings(**{**defaults, **fields})
            return await stack.enter_async_context(serve(create_app(settings, on if on is not None else bus)))

        yield start


def delta(n: int, node_id: int = 0, swarm_id: str = "sw-a", item_id: str = "msg") -> dict[str, Any]:
    return make_envelope(
        "assistant_delta",
        {"swarm_id": swarm_id, "node_id": node_id, "injection_id": "in-1", "item_id": item_id, "delta": f"<{n}>"},
    )


async def collect(
    client: httpx.AsyncClient,
    count: int,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    within: float = 10,
    after_open: Callable[[], Awaitable[Any]] | None = None,
) -> list[SseEvent]:
    """The first ``count`` events (keep-alive comments excluded) of one connection."""
    got: list[SseEvent] = []

    async def read() -> None:
        async with client.stream("GET", "/v1/events", headers=headers, params=params) as response:
            assert response.status_code == 200, await response.aread()
            if after_open is not None:
                await after_open()
            async for event in sse_events(response):
                if event.data:
                    got.append(event)
                if len(got) >= count:
                    return

    await asyncio.wait_for(read(), within)
    return got


async def test_live_events_carry_the_bus_id_name_and_envelope(start_mirror: Start, bus: MemoryEventBus) -> None:
    url = await start_mirror()
    envelopes = [delta(n) for n in range(5)]
    published: list[str] = []

    async def publish() -> None:
        published.extend(await bus.publish(envelopes))

    async with httpx.AsyncClient(base_url=url) as client:
        got = await collect(client, 5, after_open=publish)
    assert [e.id for e in got] == published
    assert [e.event for e in got] == ["assistant_delta"] * 5
    assert [e.json() for e in got] == envelopes


async def test_a_client_resumes_exactly_where_it_stopped(start_mirror: Start, bus: MemoryEventBus) -> None:
    url = await start_mirror()
    ids = await bus.publish([delta(n) for n in range(10)])
    async with httpx.AsyncClient(base_url=url) as client:
        first = await collect(client, 4, params={"last_event_id": "0-0"})
        assert [e.id for e in first] == ids[:4]
        ids += await bus.publish([delta(n) for n in range(10, 15)])  # published while disconnected
        rest = await collect(client, 11, headers={"Last-Event-ID": first[-1].id or ""})
        assert [e.id for e in rest] == ids[4:]
        assert [e.json()["data"]["delta"] for e in first + rest] == [f"<{n}>" for n in range(15)]


async def test_the_header_wins_over_the_query(start_mirror: Start, bus: MemoryEventBus) -> None:
    url = await start_mirror()
    ids = await bus.publish([delta(n) for n in range(6)])
    async with httpx.AsyncClient(base_url=url) as client:
        # a browser keeps the URL it opened with and sends the newest id in the header on reconnect
        got = await collect(client, 2, params={"last_event_id": ids[0]}, headers={"Last-Event-ID": ids[3]})
    assert [e.id for e in got] == ids[4:]


async def test_state_then_stream_from_its_id_has_no_gap(start_mirror: Start, bus: MemoryEventBus) -> None:
    url = await start_mirror()
    swarm = {"swarm_id": "sw-a", "status": "running", "nodes": [], "created_at": "t"}
    await bus.publish([make_envelope("swarm_launched", {"swarm_id": "sw-a", "request_id": "rq", "swarm": swarm})])
    async with httpx.AsyncClient(base_url=url) as client:
        await asyncio.wait_for(_until_state_has(client, "sw-a"), 5)
        state = (await client.get("/v1/state")).json()
        assert [s["swarm_id"] for s in state["swarms"]] == ["sw-a"]
        later = await bus.publish([delta(n) for n in range(3)])
        got = await collect(client, 3, params={"last_event_id": state["last_event_id"]})
    assert [e.id for e in got] == later


async def _until_state_has(client: httpx.AsyncClient, swarm_id: str) -> None:
    while not any(s["swarm_id"] == swarm_id for s in (await client.get("/v1/state")).json()["swarms"]):
        await asyncio.sleep(0.01)


async def test_filters_by_swarm_and_node(start_mirror: Start, bus: MemoryEventBus) -> None:
    url = await start_mirror()
    envelopes = [
        delta(0, node_id=0),
        delta(1, node_id=1),
        delta(2, node_id=0, swarm_id="sw-b"),
        make_envelope("swarm_status", {"swarm_id": "sw-a", "status": "running", "health": "ok", "reason": None}),
        delta(3, node_id=1),
    ]
    ids = await bus.publish(envelopes)
    async with httpx.AsyncClient(base_url=url) as client:
        swarm_b = await collect(client, 1, params={"last_event_id": "0-0", "swarm_id": "sw-b"})
        node_1 = await collect(client, 3, params={"last_event_id": "0-0", "swarm_id": "sw-a", "node_id": 1})
    assert [e.id for e in swarm_b] == [ids[2]]
    assert [e.id for e in node_1] == [ids[1], ids[3], ids[4]]


async def test_an_id_older_than_what_is_retained_gets_a_reset(start_mirror: Start) -> None:
    small = MemoryEventBus(5)
    url = await start_mirror(on=small)
    ids = await small.publish([delta(n) for n in range(20)])
    async with httpx.AsyncClient(base_url=url) as client:
        got = await collect(client, 6, headers={"Last-Event-ID": ids[2]})
    assert got[0].event == "reset" and got[0].id is None
    assert got[0].json()["first_id"] == ids[15] and "/v1/state" in got[0].json()["reason"]
    assert [e.id for e in got[1:]] == ids[15:]


async def test_an_id_from_another_stream_gets_a_reset_then_live(start_mirror: Start, bus: MemoryEventBus) -> None:
    url = await start_mirror()
    await bus.publish([delta(0)])
    future = "99999999999999-0"
    live: list[str] = []

    async def publish() -> None:
        live.extend(await bus.publish([delta(1)]))

    async with httpx.AsyncClient(base_url=url) as client:
        got = await collect(client, 2, headers={"Last-Event-ID": future}, after_open=publish)
    assert got[0].event == "reset" and "newer than anything" in got[0].json()["reason"]
    assert [e.id for e in got[1:]] == live


@pytest.mark.parametrize("path", ["/v1/events", "/v1/events/focused?swarm_id=sw-a"])
async def test_a_malformed_id_is_refused(start_mirror: Start, path: str) -> None:
    url = await start_mirror()
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get(path, headers={"Last-Event-ID": "yesterday"})
    assert response.status_code == 400 and "stream entry id" in response.json()["detail"]


async def test_keep_alive_comments(start_mirror: Start) -> None:
    url = await start_mirror(sse_keepalive_s=0.2)
    async with httpx.AsyncClient(base_url=url) as client, client.stream("GET", "/v1/events") as response:
        first = await asyncio.wait_for(anext(aiter(sse_events(response))), 5)
    assert first.comments == ("keep-alive",) and first.data == ""


async def test_a_client_far_behind_gets_every_event_once_and_in_order_from_the_bus(
    start_mirror: Start, bus: MemoryEventBus
) -> None:
    url = await start_mirror(sse_client_queue=10)
    got: list[SseEvent] = []
    published: list[str] = []
    async with httpx.AsyncClient(base_url=url) as client, client.stream("GET", "/v1/events") as response:
        events = aiter(sse_events(response))

        async def read_until(count: int) -> None:
            async with asyncio.timeout(10):
                while len(got) < count:
                    event = await anext(events)
                    if event.data:
                        got.append(event)

        for burst in range(4):  # each burst is five times the client's queue
            published += await bus.publish([delta(50 * burst + n) for n in range(50)])
        await read_until(len(published))
        more = await bus.publish([delta(n) for n in range(200, 203)])  # and live again after it
        await read_until(len(published) + 3)
        metrics = (await client.get("/metrics")).text
    assert [event.id for event in got] == published + more
    assert [event.json()["data"]["delta"] for event in got] == [f"<{n}>" for n in range(203)]
    assert _counter(metrics, "codeswarm_mirror_clients_lapped_total") >= 1
    assert _counter(metrics, "codeswarm_mirror_clients_cut_total") == 0


def _counter(metrics: str, name: str) -> float:
    return float(next(line for line in metrics.splitlines() if line.startswith(name + " ")).split()[-1])


async def _get_json(url: str, path: str) -> Any:
    async with httpx.AsyncClient(base_url=url) as client:
        return (await client.get(path)).json()


async def test_coalesced_deltas_keep_the_text_and_resume_exactly(start_mirror: Start, bus: MemoryEventBus) -> None:
    url = await start_mirror(delta_coalesce_ms=60_000)
    ids = await bus.publish([delta(n) for n in range(40)])
    async with httpx.AsyncClient(base_url=url) as client:
        merged = await collect(client, 1, params={"last_event_id": "0-0"})
        assert merged[0].id == ids[-1]  # the merged event carries its last entry's id
        data = merged[0].json()["data"]
        assert data["delta"] == "".join(f"<{n}>" for n in range(40)) and data["coalesced"] == 40
        more = await bus.publish([delta(n) for n in range(40, 45)])
        after = await collect(client, 1, headers={"Last-Event-ID": merged[0].id or ""})
    assert after[0].id == more[-1] and after[0].json()["data"]["delta"] == "".join(f"<{n}>" for n in range(40, 45))


async def test_many_clients_one_bus_reader(start_mirror: Start, bus: MemoryEventBus) -> None:
    url = await start_mirror()
    published: list[str] = []
    opened = 0
    all_open = asyncio.Event()

    async def one() -> list[SseEvent]:
        async def count_open() -> None:
            nonlocal opened
            opened += 1
            if opened == 20:
                all_open.set()
            await all_open.wait()

        return await collect(client, 3, after_open=count_open)

    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=50)) as client:
        readers = [asyncio.create_task(one()) for _ in range(20)]
        await asyncio.wait_for(all_open.wait(), 10)
        published += await bus.publish([delta(n) for n in range(3)])
        results = await asyncio.gather(*readers)
    assert all([e.id for e in got] == published for got in results)
    assert bus.waiting_readers <= 1
