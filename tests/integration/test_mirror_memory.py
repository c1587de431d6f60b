"""The mirror's memory under one big output (issue 8 item 15): a real mirror process on Redis, a real
router with a mock node running `yes | head -c 50000000`, and CLIENTS SSE clients reading /v1/events
the whole time.  The mirror's RSS stays under RSS_BOUND and /healthz keeps answering (median under
HEALTHZ_MEDIAN_S, every answer under HEALTHZ_MAX_S), probed from a process of its own every PROBE_S;
every client gets the whole turn.  The figures are printed (pytest -s)."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from codeswarm.cli.sse import SseEvent
from tests.support.mirror_process import MirrorProcess, ResumingClient
from tests.support.router_process import RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until_async

CLIENTS = 100
RSS_BOUND = 500 << 20  # the documented bound (issue 8's goal)
HEALTHZ_MEDIAN_S = 0.1  # the goal, for the typical answer
HEALTHZ_MAX_S = 2.5  # generous for 2 shared cores: while the 100 clients of this process parse the command's
# quarter MiB of output, one answer has waited 0.2-0.6 s for a core (the mirror itself is mostly idle then)
PROBE_S = 0.05


# Times GET /healthz every PROBE_S in a process of its own (so the test's SSE clients cannot delay its
# clock), one "latency-in-seconds wall-clock-time" per line, until its stdin closes.
PROBER = """
import http.client, select, sys, time
port, every = int(sys.argv[1]), float(sys.argv[2])
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
while not select.select([sys.stdin], [], [], every)[0]:
    started = time.perf_counter()
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        took = time.perf_counter() - started
        print(f"{took} {time.time()}" if response.status == 200 else f"HTTP {response.status}", flush=True)
    except OSError as exc:
        print(f"{type(exc).__name__}: {exc}", flush=True)
        connection.close()
"""


class Probe:
    """Times /healthz from a prober process and samples the mirror's RSS on a thread, until stopped."""

    def __init__(self, mirror: MirrorProcess) -> None:
        self.mirror = mirror
        self.latencies: list[float] = []
        self.slowest_at = 0.0  # wall-clock time of the slowest probe
        self.started_at = time.time()
        self.failures: list[str] = []
        self.peak_rss = mirror.rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._prober: subprocess.Popen[str] | None = None

    def _sample(self) -> None:
        while not self._stop.wait(PROBE_S / 2):
            self.peak_rss = max(self.peak_rss, self.mirror.rss_bytes())

    def __enter__(self) -> Probe:
        self._thread.start()
        self._prober = subprocess.Popen(
            [sys.executable, "-c", PROBER, str(self.mirror.port), str(PROBE_S)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        assert self._prober is not None and self._prober.stdin is not None
        output, _ = self._prober.communicate("stop\n", timeout=20)
        slowest = 0.0
        for line in output.splitlines():
            try:
                took, at = (float(word) for word in line.split())
            except ValueError:
                self.failures.append(line)
                continue
            self.latencies.append(took)
            if took > slowest:
                slowest, self.slowest_at = took, at

    def summary(self) -> str:
        ordered = sorted(self.latencies) or [float("nan")]
        return (
            f"{CLIENTS} SSE clients: mirror peak RSS {self.peak_rss / 2**20:.0f} MiB; /healthz over "
            f"{len(self.latencies)} probes: median {statistics.median(ordered) * 1000:.1f} ms, "
            f"p99 {ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms "
            f"({self.slowest_at - self.started_at:.1f} s after the prompt)"
        )


@pytest.fixture
def mirror(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[Callable[[str], MirrorProcess]]:
    started: list[MirrorProcess] = []

    def start(router_url: str) -> MirrorProcess:
        started.append(MirrorProcess(tmp_path / "mirror", redis_url, redis_prefix, router_url).start())
        return started[-1]

    yield start
    for process in started:
        process.stop()


def turn_done(injection_id: str) -> Callable[[list[SseEvent]], bool]:
    def check(events: list[SseEvent]) -> bool:
        last = events[-1]
        return last.event == "turn_complete" and last.json()["data"].get("injection_id") == injection_id

    return check


async def test_many_clients_and_a_50_mb_output_keep_the_mirror_small_and_answering(
    start_router: Callable[..., RouterProcess], mirror: Callable[[str], MirrorProcess]
) -> None:
    router = start_router()
    served = mirror(router.url)
    async with router.client() as client, httpx.AsyncClient(base_url=served.url) as mirror_http:
        swarm_id = (await client.post("/v1/swarms", json={"nodes": 1})).json()["swarm_id"]
        await wait_swarm(client, swarm_id, all_idle, 30)
        state = (await mirror_http.get("/v1/state")).json()
        readers = [ResumingClient(served.url, last_id=state["last_event_id"]) for _ in range(CLIENTS)]
        injection: dict[str, str] = {}

        def done(events: list[SseEvent]) -> bool:
            return bool(events) and "id" in injection and turn_done(injection["id"])(events)

        async def all_connected() -> bool:
            async with httpx.AsyncClient(base_url=served.url) as http:  # a new connection: no stale keep-alive
                return bool((await http.get("/readyz")).json()["clients"] >= CLIENTS)

        reading = [asyncio.create_task(reader.run(done, within=240)) for reader in readers]
        await wait_until_async(all_connected, 60, f"{CLIENTS} SSE clients connected")
        with Probe(served) as probe:
            response = await client.post(
                f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": "$ yes | head -c 50000000"}
            )
            injection["id"] = response.json()["injections"][0]["injection_id"]
            await asyncio.gather(*reading)
        print(probe.summary())

        for reader in readers:
            (completed,) = [e.json()["data"] for e in reader.events if e.event == "command_completed"]
            assert completed["truncated"] is True and completed["output_chars"] == 50_000_000
        assert not probe.failures, probe.failures[:5]
        assert probe.peak_rss < RSS_BOUND, probe.summary()
        assert statistics.median(probe.latencies) < HEALTHZ_MEDIAN_S, probe.summary()
        assert max(probe.latencies) < HEALTHZ_MAX_S, probe.summary()
        await wait_swarm(client, swarm_id, all_idle, 10)
