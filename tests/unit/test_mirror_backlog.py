"""A backlog on the in-process bus (the embedded mode) reaches a client that reads as fast as it can
without cutting it off: the hub lets its stream send before queuing more, and still cuts one that
stopped reading."""

from __future__ import annotations

import asyncio
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


@pytest.fixture
async def mirror(tmp_path: Path) -> AsyncIterator[tuple[str, MemoryEventBus]]:
    bus = MemoryEventBus(100_000)
    settings = Settings(home=tmp_path, router_url=f"http://127.0.0.1:{free_port()}", delta_coalesce_ms=0)
    async with serve(create_app(settings, bus)) as url:
        yield url, bus
    await bus.close()


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


async def test_a_client_that_stopped_reading_is_still_cut_off(mirror: tuple[str, MemoryEventBus]) -> None:
    url, bus = mirror
    host, port = url.removeprefix("http://").split(":")
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await asyncio.get_running_loop().sock_connect(stuck, (host, int(port)))
    stuck.sendall(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    try:
        async with httpx.AsyncClient(base_url=url) as client:

            async def clients(count: int) -> bool:
                return bool((await client.get("/readyz")).json()["clients"] == count)

            await wait_until_async(lambda: clients(1), 10, "the stuck client connected")
            for _ in range(20):
                await bus.publish(deltas(2000))
            await wait_until_async(lambda: clients(0), 10, "the stuck client cut off")
    finally:
        stuck.close()
