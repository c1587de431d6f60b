"""A provider with no processes: scripted launches and job reports, in-memory inboxes and outboxes.

A `FakeBackend` is what a real scheduler keeps across router restarts (the jobs started, the files);
each router gets its own `FakeProvider` over it.  Tests write outbox records in the node program's own
format (services/node/records.py) with `write`; they reach ingest as a follower hands them over.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.providers.base import (
    JobReport,
    JobState,
    LaunchRejected,
    LaunchSpec,
    LaunchStopped,
    LinesSink,
    OutboxLines,
    Progress,
    Provider,
    ProviderConfig,
)
from services.node.outbox import encode_record
from services.node.records import KIND_EXIT, KIND_HELLO

FAKE_CONFIG = ProviderConfig(
    id="fake", label="In-memory backend", backend="fake", cluster="fake", max_nodes=8, runtimes=("mock",)
)
RUNNING = JobReport(JobState.RUNNING)


@dataclass
class LaunchScript:
    """What the next launch does: `hold_before_start` (no job yet) and `hold_after_start` (the job
    exists, its id not yet answered) make it wait, until set or the launch is stopped; `reject` is the
    backend's refusal, given after the hold before start."""

    reject: str | None = None
    hold_before_start: asyncio.Event | None = None
    hold_after_start: asyncio.Event | None = None
    entered: asyncio.Event = field(default_factory=asyncio.Event)  # set when the launch reached its hold


@dataclass
class FakeBackend:
    jobs: dict[str, str] = field(default_factory=dict)  # swarm id → job id started for it
    started: list[str] = field(default_factory=list)  # job ids, in the order jobs were started
    terminated: list[str] = field(default_factory=list)
    reports: dict[str, JobReport] = field(default_factory=dict)  # job id → what the next probes say
    running: dict[str, set[int]] = field(default_factory=dict)  # job id → nodes whose process runs
    outboxes: dict[tuple[str, int], bytearray] = field(default_factory=dict)
    inboxes: dict[tuple[str, int], list[bytes]] = field(default_factory=dict)
    seqs: dict[tuple[str, int], int] = field(default_factory=dict)

    def inbox(self, job_id: str, node_id: int) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.inboxes.get((job_id, node_id), [])]


class FakeProvider(Provider):
    def __init__(self, backend: FakeBackend, config: ProviderConfig = FAKE_CONFIG) -> None:
        super().__init__(config)
        self.backend = backend
        self.script = LaunchScript()
        self.probes = 0
        self.deliveries_held: asyncio.Event | None = None  # set: deliveries wait until it is set
        self._sink: LinesSink | None = None
        self._followed: dict[str, dict[int, int]] = {}  # job id → node → offset handed to the sink

    async def start(self, sink: LinesSink) -> None:
        self._sink = sink

    async def stop(self) -> None:
        self._followed.clear()

    async def launch(self, spec: LaunchSpec, progress: Progress, stop: asyncio.Event) -> str:
        existing = self.backend.jobs.get(spec.swarm_id)
        if existing is not None:  # resumed after a restart: the job already started is the swarm's
            return existing
        script = self.script
        await progress("submit", "fake submit")
        await self._hold(script, script.hold_before_start, stop, maybe_started=False)
        if script.reject is not None:
            raise LaunchRejected(script.reject)
        job_id = f"job{len(self.backend.started) + 1}"
        self.backend.jobs[spec.swarm_id] = job_id
        self.backend.started.append(job_id)
        self.backend.reports.setdefault(job_id, RUNNING)
        self.backend.running.setdefault(job_id, set(range(spec.node_count)))
        await self._hold(script, script.hold_after_start, stop, maybe_started=True)
        return job_id

    @staticmethod
    async def _hold(script: LaunchScript, hold: asyncio.Event | None, stop: asyncio.Event, maybe_started: bool) -> None:
        if hold is None:
            return
        script.entered.set()
        stopped = asyncio.ensure_future(stop.wait())
        released = asyncio.ensure_future(hold.wait())
        try:
            await asyncio.wait([stopped, released], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            released.cancel()
        if stop.is_set():
            raise LaunchStopped(maybe_started)

    async def find_job(self, swarm_id: str) -> str | None:
        return self.backend.jobs.get(swarm_id)

    async def probe(self, job_ids: Sequence[str]) -> dict[str, JobReport]:
        self.probes += 1
        return {job: self.backend.reports[job] for job in job_ids if job in self.backend.reports}

    def running_nodes(self, job_id: str) -> set[int] | None:
        return set(self.backend.running.get(job_id, set()))

    async def terminate(self, job_id: str) -> None:
        self.backend.terminated.append(job_id)
        self.backend.running[job_id] = set()
        self.backend.reports[job_id] = JobReport(JobState.ENDED, reason="terminated")

    async def deliver(self, job_id: str, node_id: int, line: bytes) -> None:
        if self.deliveries_held is not None:
            await self.deliveries_held.wait()
        self.backend.inboxes.setdefault((job_id, node_id), []).append(line)

    def follow(self, job_id: str, offsets: dict[int, int]) -> None:
        self._followed[job_id] = dict(offsets)

    def unfollow(self, job_id: str) -> None:
        self._followed.pop(job_id, None)

    def following(self, job_id: str) -> bool:
        return job_id in self._followed

    async def drain(self, job_id: str) -> None:
        await self.hand_over(job_id)

    async def archive(self, job_id: str, node_count: int, dest: Path) -> Path:
        dest.write_bytes(b"")
        return dest

    async def measure(self, paths: Sequence[str]) -> dict[str, int]:
        return {}

    async def delete(self, paths: Sequence[str]) -> list[tuple[str, int]]:
        return []

    # -- what a node program does, for tests ------------------------------------------------------

    async def write(
        self, job_id: str, node_id: int, kind: str, payload: dict[str, Any], injection_id: str | None = None
    ) -> None:
        """Append one outbox record as the node program writes it, and hand it to ingest if followed."""
        key = (job_id, node_id)
        seq = self.backend.seqs.get(key, 0) + 1
        self.backend.seqs[key] = seq
        line = encode_record(seq, job_id, node_id, injection_id, kind, payload)  # the node program's own format
        self.backend.outboxes.setdefault(key, bytearray()).extend(line)
        await self.hand_over(job_id)

    async def hello(self, job_id: str, node_id: int) -> None:
        await self.write(job_id, node_id, KIND_HELLO, {"pid": 1000 + node_id, "host": "fake", "runtime": "mock"})

    async def exit(self, job_id: str, node_id: int, code: int | None) -> None:
        """The node's exit record (code None: a record without one) and its process gone."""
        payload: dict[str, Any] = {"reason": "fake exit"}
        if code is not None:
            payload["code"] = code
        self.backend.running.get(job_id, set()).discard(node_id)
        await self.write(job_id, node_id, KIND_EXIT, payload)

    async def hand_over(self, job_id: str) -> None:
        offsets = self._followed.get(job_id)
        if offsets is None or self._sink is None:
            return
        chunks = []
        for (job, node_id), data in self.backend.outboxes.items():
            start = offsets.get(node_id, 0)
            if job != job_id or start >= len(data):
                continue
            lines = bytes(data[start:]).splitlines()  # complete lines, without their newlines
            chunks.append(OutboxLines(job_id, node_id, lines, len(data), start))
            offsets[node_id] = len(data)
        if chunks:
            await self._sink(chunks)
