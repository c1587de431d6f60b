"""A backlog on the in-process bus (the embedded mode) reaches a client that reads as fast as it can
without cutting it off: the hub lets its stream send before queuing more, and still cuts one that
stopped reading (no write completed for ``sse_client_stall_s``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
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
from tests.support.servers import wait_until_async


@contextlib.asynccontextmanager
async def serve_mirror(home: Path, **fields: Any) -> AsyncIterator[tuple[str, MemoryEventBus]]:
    bus = MemoryEventBus(100_000)
    settings = Settings(
        home=home,
        router_url=f"http://127.0.0.1:{free_port()}",
        delta_coalesce_ms=0,
        sse_client_stall_s=1.0,
        **fields,
    )
    async with serve(create_app(settings, bus)) as url:
        yield url, bus
    await bus.close()


@pytest.fixture
async def mirror(tmp_path: Path) -> AsyncIterator[tuple[str, MemoryEventBus]]:
    async with serve_mirror(tmp_path) as served:
        yield served


def deltas(count: int) -> list[dict[str, Any]]:
    return [
        make_envelope("assistant_delta", {"swarm_id": "sw-a", "node_id": 0, "item_id": "m", "delta": f"<{n}>"})
        for n in range(count)
    ]


async def test_a_backlog_of_five_queues_reaches_a_reading_client_whole(mirror: tuple[str, MemoryEventBus]) -> None:
    url, bus = mirror
    total = 10_000  # five times the client's queue (2,000), published at once as the router's ingest does
    got: list[SseEvent] = []
    async with httpx.AsyncClient(base_url=url) as client, client.stream("GET", "/v1/events") as response:
        for _ in range(total // 2000):
            await bus.publish(deltas(2000))
        async with asyncio.timeout(30):
            async for event in sse_events(response):
                if event.data:
                    got.append(event)
                if len(got) == total or event.event == "error":
                    break
    assert [event.event for event in got] == ["assistant_delta"] * total
    assert len({event.id for event in got}) == total


async def test_a_client_that_reads_slowly_is_sent_on_from_the_bus_not_cut_off(tmp_path: Path) -> None:
    async with serve_mirror(tmp_path, sse_client_queue=100) as (url, bus):
        await _read_slowly(url, bus)


async def _read_slowly(url: str, bus: MemoryEventBus) -> None:
    host, port = url.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.setblocking(False)
    await loop.sock_connect(slow, (host, int(port)))
    await loop.sock_sendall(slow, b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    total = 6000  # sixty times its queue, at once: it is lapped
    received = b""
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            await wait_until_async(lambda: _clients_are(client, 1), 10, "the slow client connected")
            ids = [entry for _ in range(3) for entry in await bus.publish(deltas(2000))]
            async with asyncio.timeout(30):
                while received.count(b"event: assistant_delta") < total and b"event: error" not in received:
                    received += await loop.sock_recv(slow, 4096)
                    await asyncio.sleep(0.005)  # a slow reader: about 800 KB/s, writes of up to 200 KB
            metrics = (await client.get("/metrics")).text
    finally:
        slow.close()
    assert b"event: error" not in received
    assert [line[4:].decode() for line in received.split(b"\n") if line.startswith(b"id: ")] == ids
    assert "codeswarm_mirror_clients_cut_total 0.0" in metrics.splitlines()
    assert "codeswarm_mirror_clients_lapped_total 0.0" not in metrics.splitlines()


async def _clients_are(client: httpx.AsyncClient, count: int) -> bool:
    return bool((await client.get("/readyz")).json()["clients"] == count)


async def test_a_client_that_stopped_reading_is_still_cut_off(mirror: tuple[str, MemoryEventBus]) -> None:
    url, bus = mirror
    host, port = url.removeprefix("http://").split(":")
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await asyncio.get_running_loop().sock_connect(stuck, (host, int(port)))
    stuck.sendall(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            await wait_until_async(lambda: _clients_are(client, 1), 10, "the stuck client connected")
            for _ in range(20):
                await bus.publish(deltas(2000))
            await wait_until_async(lambda: _clients_are(client, 0), 10, "the stuck client cut off")
            metrics = (await client.get("/metrics")).text
            assert "codeswarm_mirror_clients_cut_total 1.0" in metrics.splitlines()
    finally:
        stuck.close()
