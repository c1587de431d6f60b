"""The mirror in a test's own event loop, in front of a router process on Redis, and an SSE client of it
that reads every event in the background and waits on conditions over what it has read."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from mirror.app import create_app
from services.settings import Settings
from tests.support.mirror_process import serve
from tests.support.servers import wait_until_async


@contextlib.asynccontextmanager
async def serve_mirror(router_url: str, home: Path, redis_url: str, redis_prefix: str) -> AsyncIterator[str]:
    """A mirror of `router_url` (reconciling every second, no coalescing); its base URL."""
    settings = Settings(
        home=home,
        bus="redis",
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        router_url=router_url,
        reconcile_interval_s=1.0,
        delta_coalesce_ms=0,
    )
    async with serve(create_app(settings)) as url:
        yield url


class MirrorStream:
    """Every event the mirror's SSE route sends, read in the background."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MirrorStream:
        self._task = asyncio.create_task(self._read())
        await wait_until_async(lambda: self._open, 10, "the SSE stream to open")
        return self

    _open = False

    async def _read(self) -> None:
        async with (
            httpx.AsyncClient(timeout=None) as client,
            client.stream("GET", f"{self.url}/v1/events", params={"last_event_id": "0-0"}) as response,
        ):
            self._open = True
            name, data = "", ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif not line and data:
                    self.events.append((name, json.loads(data)["data"]))
                    name, data = "", ""

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def of(self, name: str, **match: Any) -> list[dict[str, Any]]:
        return [d for n, d in self.events if n == name and all(d.get(k) == v for k, v in match.items())]

    async def wait(self, name: str, within: float = 30, count: int = 1, **match: Any) -> list[dict[str, Any]]:
        await wait_until_async(lambda: len(self.of(name, **match)) >= count, within, f"{count} {name} events {match}")
        return self.of(name, **match)
