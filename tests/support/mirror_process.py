"""Test and benchmark support: run an app on a real socket or the mirror as a process, and read an SSE
stream.

The reader is a plain client-side parser of the SSE text format (what a browser's EventSource does),
so tests see exactly the bytes a real client gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from codeswarm.cli.sse import SseEvent, SseParser
from tests.support.router_process import suite_auth_env
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, port: int | None = None, *, startup_timeout_s: float = 30.0) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn in this event loop (lifespan included); yield its base URL."""
    chosen = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=chosen, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server._serve())  # _serve: no signal handlers of our own in a test process
    loop = asyncio.get_running_loop()
    deadline = loop.time() + startup_timeout_s
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped during start-up")
        if loop.time() > deadline:
            raise TimeoutError(f"server on port {chosen} did not start within {startup_timeout_s}s")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{chosen}"
    finally:
        server.should_exit = True  # open streams get timeout_graceful_shutdown, then the lifespan ends
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def sse_events(response: httpx.Response) -> AsyncIterator[SseEvent]:
    """The events of a streamed httpx response, as they arrive, keep-alives included (the CLI's
    parser, codeswarm/cli/sse.py)."""
    parser = SseParser(keep_comments=True)
    async for text in response.aiter_text():
        for event in parser.feed_text(text):
            yield event


@dataclass
class MirrorProcess:
    """`python -m mirror.main` as a child process on the Redis bus; ``kill()`` is a real SIGKILL."""

    home: Path
    redis_url: str
    redis_prefix: str
    router_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "mirror.log"

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "CODESWARM_HOME": str(self.home),
            "CODESWARM_BUS": "redis",
            "CODESWARM_REDIS_URL": self.redis_url,
            "CODESWARM_REDIS_PREFIX": self.redis_prefix,
            "CODESWARM_ROUTER_URL": self.router_url,
            "CODESWARM_MIRROR_PORT": str(self.port),
            **suite_auth_env(self.extra_env),
            **self.extra_env,
        }

    def start(self, *, timeout_s: float = 30.0) -> MirrorProcess:
        """Start and wait until it answers /healthz (it may still be degraded)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mirror.main"],
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while not self._alive():
            if time.monotonic() > deadline:
                raise TimeoutError(f"mirror on {self.url} not healthy within {timeout_s}s: {self.log_tail()}")
            time.sleep(0.02)
        return self

    def _alive(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"mirror exited with {self.process.returncode}: {self.log_tail()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_bytes(self) -> int:
        """Resident memory of the process, from /proc (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc status")

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class ResumingClient:
    """An SSE client that behaves like a browser's EventSource: on any disconnect it reconnects after
    ``retry_s`` with ``Last-Event-ID`` set to the last id it received, until ``until`` holds."""

    def __init__(
        self,
        base_url: str,
        *,
        last_id: str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        retry_s: float = 0.05,
    ) -> None:
        self.base_url = base_url
        self.last_id = last_id
        self.params = params or {}
        self.headers = headers or {}
        self.retry_s = retry_s
        self.events: list[SseEvent] = []
        self.connections = 0
        self.entries = 0  # events received that carry a bus entry id
        self.disconnects: list[str] = []

    async def run(self, until: Callable[[list[SseEvent]], bool], within: float) -> list[SseEvent]:
        try:
            async with asyncio.timeout(within):
                return await self._run(until)
        except TimeoutError:
            raise TimeoutError(
                f"SSE client: condition not met within {within:g}s "
                f"({len(self.events)} events, {self.connections} connections, {self.disconnects[-3:]})"
            ) from None

    async def _run(self, until: Callable[[list[SseEvent]], bool]) -> list[SseEvent]:
        timeout = httpx.Timeout(5.0, read=None)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout) as client:
            while not until(self.events):
                headers = dict(self.headers)
                if self.last_id is not None:
                    headers["Last-Event-ID"] = self.last_id
                try:
                    async with client.stream("GET", "/v1/events", params=self.params, headers=headers) as response:
                        if response.status_code != 200:
                            self.disconnects.append(f"HTTP {response.status_code}")
                        else:
                            self.connections += 1
                            if await self._read(response, until):
                                return self.events
                            self.disconnects.append("stream ended")
                except httpx.HTTPError as exc:
                    self.disconnects.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self.retry_s)
        return self.events

    async def _read(self, response: httpx.Response, until: Callable[[list[SseEvent]], bool]) -> bool:
        async for event in sse_events(response):
            if not event.data:
                continue
            self.events.append(event)
            if event.id is not None:
                self.last_id = event.id
                self.entries += 1
            if until(self.events):
                return True
        return False
