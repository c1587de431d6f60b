"""The mirror's reliability promises (issue 3), on real Redis, a real router process and real nodes.

- a client that disconnects mid-stream and resumes by id receives exactly the stream;
- the mirror killed with -9 and restarted while nodes stream: clients reconnect and lose nothing;
- the router drops a swarm: every client gets ``swarm_removed`` within one reconcile interval;
- a client that never reads: the mirror's memory stays bounded and that client is disconnected;
- the router unreachable at mirror start: degraded, serving what it has, reconciling once it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codeswarm.cli.sse import SseEvent
from mirror.app import create_app
from services.bus import RedisEventBus
from services.protocol import make_envelope
from services.settings import Settings
from tests.support.mirror_process import MirrorProcess, ResumingClient, serve, sse_events
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until_async

MOCK = {"runtime": "mock"}


@pytest.fixture
def mirror_processes(tmp_path: Path) -> Iterator[list[MirrorProcess]]:
    started: list[MirrorProcess] = []
    yield started
    for process in started:
        process.stop()


def mirror_settings(home: Path, redis_url: str, prefix: str, router_url: str, **fields: Any) -> Settings:
    defaults: dict[str, Any] = {"reconcile_interval_s": 1.0, "delta_coalesce_ms": 0}
    return Settings(
        home=home,
        bus="redis",
        redis_url=redis_url,
        redis_prefix=prefix,
        router_url=router_url,
        **{**defaults, **fields},
    )


def without_mirror_annotation(received: dict[str, Any], published: dict[str, Any]) -> dict[str, Any]:
    """The mirror may add request_id where the router's event had none; nothing else may differ."""
    if "request_id" in received["data"] and "request_id" not in published["data"]:
        received = {**received, "data": {k: v for k, v in received["data"].items() if k != "request_id"}}
    return received


def assert_exactly_the_stream(received: list[SseEvent], bus: BusReader) -> None:
    """What a client got (its events with ids) is the bus's stream from the start up to its last event:
    same ids, same order, same envelopes, no gaps, no duplicates."""
    with_ids = [e for e in received if e.id is not None]
    assert with_ids, "the client received nothing"
    last = with_ids[-1].id
    published = []
    for entry_id, envelope in bus.entries:
        published.append((entry_id, envelope))
        if entry_id == last:
            break
    assert [e.id for e in with_ids] == [entry_id for entry_id, _ in published]
    for event, (_, envelope) in zip(with_ids, published, strict=True):
        assert event.event == envelope["event"]
        assert without_mirror_annotation(event.json(), envelope) == envelope
    for own in (e for e in received if e.id is None):  # the mirror's own reconcile results only
        assert own.event in ("swarm_status", "swarm_removed") and own.json()["data"]["source"] == "mirror"


def turns_done(swarm_id: str, nodes: int) -> Callable[[list[SseEvent]], bool]:
    def check(events: list[SseEvent]) -> bool:
        done = {e.json()["data"].get("node_id") for e in events if e.event == "turn_complete"}
        return len(done) >= nodes

    return check


async def launch_idle_swarm(http: httpx.AsyncClient, nodes: int, tokens: int, delay_ms: float) -> str:
    launched = await http.post(
        "/v1/swarms", json={"nodes": nodes, **MOCK, "runtime_params": {"tokens": tokens, "delay_ms": delay_ms}}
    )
    assert launched.status_code == 202, launched.text
    swarm_id: str = launched.json()["swarm_id"]
    await wait_swarm(http, swarm_id, all_idle, 30)
    return swarm_id


async def test_a_client_that_disconnects_mid_stream_resumes_with_exactly_the_stream(
    start_router: Callable[..., RouterProcess], bus: BusReader, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    router = start_router()
    settings = mirror_settings(tmp_path / "mirror", redis_url, redis_prefix, router.url)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=15) as http:
        swarm_id = await launch_idle_swarm(http, nodes=2, tokens=400, delay_ms=3)
        first: list[SseEvent] = []
        async with http.stream("GET", "/v1/events", params={"last_event_id": "0-0"}) as stream:
            injected = await http.post(
                f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "hi\n$ echo x"}
            )
            assert injected.status_code == 202, injected.text
            async for event in sse_events(stream):
                if event.data:
                    first.append(event)
                if sum(e.event == "assistant_delta" for e in first) >= 20:
                    break  # disconnect mid-stream
        gone_at = len(first)
        # while the client is away, the nodes go on streaming
        await bus.wait_for(lambda: len(bus.entries) >= gone_at + 200, 20, "200 events published meanwhile")
        client = ResumingClient(url, last_id=first[-1].id)
        rest = await client.run(turns_done(swarm_id, 2), within=30)
        await bus.poll()
        received = first + rest
        assert_exactly_the_stream(received, bus)
        answers = {
            n: "".join(
                e.json()["data"]["delta"]
                for e in received
                if e.event == "assistant_delta" and e.json()["data"]["node_id"] == n
            )
            for n in (0, 1)
        }
        assert answers == {0: "echo: hi\n$ echo x", 1: "echo: hi\n$ echo x"}


async def test_coalesced_stream_resumes_exactly_and_keeps_every_character(
    start_router: Callable[..., RouterProcess], bus: BusReader, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    router = start_router()
    settings = mirror_settings(tmp_path / "mirror", redis_url, redis_prefix, router.url, delta_coalesce_ms=50)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=15) as http:
        swarm_id = await launch_idle_swarm(http, nodes=2, tokens=2000, delay_ms=0)
        prompt = "x" * 3000
        await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": prompt})
        await bus.wait_for(lambda: len(bus.events("turn_complete", swarm_id=swarm_id)) == 2, 30, "turns done")
        # read it all (a burst: coalescing has work to do) in three connections
        client = ResumingClient(url, last_id="0-0")
        part = await client.run(lambda events: len(events) >= 10, within=10)
        second = ResumingClient(url, last_id=part[-1].id)
        more = await second.run(lambda events: len(events) >= 10, within=10)
        third = ResumingClient(url, last_id=more[-1].id)
        rest = await third.run(turns_done(swarm_id, 2), within=10)
    received = [e for e in part + more + rest if e.id is not None]
    ids = [str(e.id) for e in received]
    assert len(ids) == len(set(ids)) and ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    stream_ids = [entry_id for entry_id, _ in bus.entries]
    assert set(ids) <= set(stream_ids)
    merged = [e for e in received if e.json()["data"].get("coalesced")]
    assert merged, "a burst of deltas was not coalesced"
    for node_id in (0, 1):
        text = "".join(
            e.json()["data"]["delta"]
            for e in received
            if e.event == "assistant_delta" and e.json()["data"]["node_id"] == node_id
        )
        assert text == f"echo: {prompt}"
    # every entry that is not a delta arrives as itself, and nothing is skipped
    upto = stream_ids[: stream_ids.index(str(ids[-1])) + 1]
    non_deltas = [i for i, envelope in bus.entries[: len(upto)] if not envelope["event"].endswith("_delta")]
    assert [e.id for e in received if not e.event.endswith("_delta")] == non_deltas


async def test_mirror_killed_and_restarted_while_nodes_stream_loses_nothing(
    start_router: Callable[..., RouterProcess],
    bus: BusReader,
    tmp_path: Path,
    redis_url: str,
    redis_prefix: str,
    mirror_processes: list[MirrorProcess],
) -> None:
    router = start_router()
    env = {"CODESWARM_RECONCILE_INTERVAL_S": "1", "CODESWARM_DELTA_COALESCE_MS": "0"}
    mirror = MirrorProcess(tmp_path / "mirror", redis_url, redis_prefix, router.url, extra_env=env)
    mirror_processes.append(mirror.start())
    async with router.client() as http:
        swarm_id = await launch_idle_swarm(http, nodes=3, tokens=600, delay_ms=4)
        clients = [ResumingClient(mirror.url, last_id="0-0") for _ in range(3)]
        runs = [asyncio.create_task(c.run(turns_done(swarm_id, 3), within=60)) for c in clients]
        await wait_until_async(lambda: all(c.connections for c in clients), 10, "clients connected")
        injected = await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "go"})
        assert injected.status_code == 202
        await wait_until_async(
            lambda: all(sum(e.event == "assistant_delta" for e in c.events) >= 30 for c in clients),
            20,
            "clients mid-stream",
        )
        mirror.kill()
        await bus.poll()
        killed_at = len(bus.entries)
        restarted = MirrorProcess(mirror.home, redis_url, redis_prefix, router.url, extra_env=env, port=mirror.port)
        mirror_processes.append(restarted.start())
        results = await asyncio.gather(*runs)
        await bus.poll()
        assert len(bus.entries) > killed_at  # the nodes went on while the mirror was down
        assert all(c.connections >= 2 for c in clients)  # every client really lost its connection
        for received in results:
            assert_exactly_the_stream(received, bus)


async def test_router_drops_a_swarm_every_client_hears_within_one_interval(
    start_router: Callable[..., RouterProcess], bus: BusReader, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """Twice: the mirror on the router's bus (the router's own swarm_removed reaches it), and the
    mirror on a bus the router does not write to, so only reconciliation can tell it."""
    interval = 1.0
    router = start_router(CODESWARM_TERMINATED_TTL_S="1")
    async with router.client() as http:
        swarm_id = await launch_idle_swarm(http, nodes=1, tokens=4, delay_ms=0)
        blind_prefix = redis_prefix + "blind:"
        homes = (tmp_path / "m1", tmp_path / "m2")
        async with contextlib.AsyncExitStack() as stack:
            urls = [
                await stack.enter_async_context(
                    serve(
                        create_app(mirror_settings(home, redis_url, prefix, router.url, reconcile_interval_s=interval))
                    )
                )
                for home, prefix in zip(homes, (redis_prefix, blind_prefix), strict=True)
            ]
            for url in urls:  # both know the swarm (the blind one from the router's list only)
                async with httpx.AsyncClient(base_url=url) as mirror_http:
                    state = (await mirror_http.get("/v1/state")).json()
                    assert swarm_id in [s["swarm_id"] for s in state["swarms"]]

            def removed(events: list[SseEvent]) -> bool:
                return any(e.event == "swarm_removed" and e.json()["data"]["swarm_id"] == swarm_id for e in events)

            clients = [ResumingClient(url) for url in urls for _ in range(3)]
            runs = [asyncio.create_task(c.run(removed, within=60)) for c in clients]
            await wait_until_async(lambda: all(c.connections for c in clients), 10, "clients connected")
            assert (await http.post(f"/v1/swarms/{swarm_id}/terminate", json={})).status_code == 202
            await wait_swarm(http, swarm_id, lambda s: s.get("status_code") == 404, 60)
            gone_at = time.monotonic()
            await asyncio.gather(*runs)
            heard_within = time.monotonic() - gone_at
        assert heard_within <= interval + 0.5, f"swarm_removed reached every client after {heard_within:.2f}s"
        for client in clients[3:]:
            (own,) = [e for e in client.events if e.event == "swarm_removed"]
            assert own.id is None and own.json()["data"]["source"] == "mirror"


async def test_router_unreachable_at_mirror_start_degrades_and_keeps_every_swarm(
    start_router: Callable[..., RouterProcess],
    tmp_path: Path,
    redis_url: str,
    redis_prefix: str,
    mirror_processes: list[MirrorProcess],
) -> None:
    router = start_router()
    async with router.client() as http:
        swarm_ids = {await launch_idle_swarm(http, nodes=1, tokens=4, delay_ms=0) for _ in range(2)}
    env = {"CODESWARM_RECONCILE_INTERVAL_S": "1"}
    mirror = MirrorProcess(tmp_path / "mirror", redis_url, redis_prefix, router.url, extra_env=env)
    mirror_processes.append(mirror.start())
    async with httpx.AsyncClient(base_url=mirror.url) as mirror_http:
        assert {s["swarm_id"] for s in (await mirror_http.get("/v1/state")).json()["swarms"]} == swarm_ids
    mirror.stop()
    router.kill()

    again = MirrorProcess(mirror.home, redis_url, redis_prefix, router.url, extra_env=env, port=mirror.port)
    mirror_processes.append(again.start())
    async with httpx.AsyncClient(base_url=again.url) as mirror_http:
        ready = await mirror_http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "degraded"
        assert any("router" in reason for reason in ready.json()["reasons"])
        launch = await mirror_http.post("/v1/swarms", json={"nodes": 1})
        assert launch.status_code == 503 and "unreachable" in launch.json()["detail"]

        async def failed_reconciles(at_least: int) -> bool:
            metrics = (await mirror_http.get("/metrics")).text
            line = next(x for x in metrics.splitlines() if x.startswith("codeswarm_mirror_reconcile_failures_total"))
            return float(line.split()[-1]) >= at_least

        await wait_until_async(lambda: failed_reconciles(3), 15, "several failed reconciles")
        assert {s["swarm_id"] for s in (await mirror_http.get("/v1/state")).json()["swarms"]} == swarm_ids

        start_router()  # the router comes back (its state from Postgres)

        async def ready_again() -> bool:
            return (await mirror_http.get("/readyz")).status_code == 200

        await wait_until_async(ready_again, 15, "mirror ready once the router answers")
        assert {s["swarm_id"] for s in (await mirror_http.get("/v1/state")).json()["swarms"]} == swarm_ids


async def test_a_client_that_never_reads_is_cut_off_and_memory_stays_bounded(
    tmp_path: Path, redis_url: str, redis_prefix: str, mirror_processes: list[MirrorProcess]
) -> None:
    env = {
        "CODESWARM_SSE_CLIENT_QUEUE": "2000",
        "CODESWARM_DELTA_COALESCE_MS": "0",
        "CODESWARM_SSE_CLIENT_STALL_S": "3",
    }
    mirror = MirrorProcess(tmp_path / "mirror", redis_url, redis_prefix, "http://127.0.0.1:9", extra_env=env)
    mirror_processes.append(mirror.start())
    total = 60_000  # about 70 MB of events through the mirror
    # the bus keeps every entry: a healthy reader cut under load resumes by id without a trim in between
    publisher = RedisEventBus(redis_url, redis_prefix, maxlen=2 * total)
    stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", mirror.port))
        stuck.sendall(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        healthy = ResumingClient(mirror.url)
        payload = "y" * 1000
        batch = [
            make_envelope(
                "command_output_delta", {"swarm_id": "sw-load", "node_id": 0, "item_id": "c", "delta": payload}
            )
            for _ in range(500)
        ]

        async def clients_connected() -> bool:
            async with httpx.AsyncClient(base_url=mirror.url) as http:
                return bool((await http.get("/readyz")).json()["clients"] >= 2)

        async def clients_connected_is(count: int) -> bool:
            async with httpx.AsyncClient(base_url=mirror.url) as http:
                return bool((await http.get("/readyz")).json()["clients"] == count)

        def all_entries(events: list[SseEvent]) -> bool:  # entries carry ids; a cut-off notice does not
            return healthy.entries >= total

        reading = asyncio.create_task(healthy.run(all_entries, within=120))
        await wait_until_async(clients_connected, 10, "both clients connected")
        baseline = mirror.rss_bytes()
        peak = baseline
        for _ in range(total // len(batch)):
            await publisher.publish(batch)
            peak = max(peak, mirror.rss_bytes())
        await reading
        peak = max(peak, mirror.rss_bytes())

        async def clients_cut() -> float:
            async with httpx.AsyncClient(base_url=mirror.url) as http:
                metrics = (await http.get("/metrics")).text
            cut = next(line for line in metrics.splitlines() if line.startswith("codeswarm_mirror_clients_cut_total"))
            return float(cut.split()[-1])

        # the stuck client is let go once a write of it stayed pending for 3 s; the reader never is
        await wait_until_async(lambda: clients_connected_is(0), 15, "the stuck client let go")  # the reader is done
        assert await clients_cut() == 1
        assert healthy.connections == 1 and not healthy.disconnects
        ids = [event.id for event in healthy.events if event.id is not None]
        assert len(ids) == len(set(ids)) == total
        growth = peak - baseline
        assert growth < 40 * 2**20, f"mirror memory grew by {growth / 2**20:.1f} MiB for a client that never reads"
        # the mirror closed the stuck connection: draining it ends in EOF
        stuck.settimeout(10)
        received = b""
        while chunk := stuck.recv(1 << 16):
            received += chunk
        assert received.startswith(b"HTTP/1.1 200")
    finally:
        stuck.close()
        await publisher.close()
