"""Where a swarm runs: one small class per backend behind this interface.

A provider starts and stops jobs, answers probes, delivers inbox lines and streams outbox lines to
the ingest step.  It never decides lifecycle: it reports facts and the router decides.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from router.retention_paths import job_paths
from services.protocol.views import LaunchField
from services.waiting import wait_event


@dataclass(slots=True)
class OutboxLines:
    """Complete lines read from one node's outbox: they span [start_offset, end_offset) of the file."""

    job_id: str
    node_id: int
    lines: list[bytes]
    end_offset: int
    start_offset: int


LinesSink = Callable[[Sequence[OutboxLines]], Awaitable[None]]
Progress = Callable[[str, str], Awaitable[None]]  # (phase, message)


@dataclass(frozen=True)
class ProviderConfig:
    id: str
    label: str
    backend: str
    # The providers-file entry this provider comes from (its presets share it): a job is identified by
    # (cluster, job id), never by the job id alone, nor by the scheduler's own ClusterName.
    cluster: str
    max_nodes: int
    runtimes: tuple[str, ...]
    defaults: dict[str, Any] = field(default_factory=dict)
    launch_fields: tuple[LaunchField, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)  # backend-specific (e.g. the Slurm cluster)
    runtime_settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # runtime → its provider-level params


@dataclass(frozen=True)
class LaunchSpec:
    swarm_id: str
    node_count: int
    runtime: str
    runtime_params: dict[str, Any]
    params: dict[str, Any]  # validated launch-field values, defaults applied
    system_prompt: str | None = None
    agents_bundle: dict[str, str] | None = None
    secret: str | None = field(default=None, repr=False)  # the model key; only ever in a 0600 control file
    orphan_after_s: float | None = None  # the node program exits once orphaned this long (None: its default)


class LaunchRejected(Exception):
    """The backend refused the launch; the message is the backend's own words (e.g. sbatch's)."""


class LaunchStopped(Exception):
    """The user terminated the swarm while its launch was in flight; the launch gave up before starting
    a job.  `maybe_started`: an earlier attempt's answer was lost, so a job may exist all the same (the
    caller looks for it by name)."""

    def __init__(self, maybe_started: bool) -> None:
        super().__init__("launch stopped by terminate")
        self.maybe_started = maybe_started


async def pause_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less: a stop ends the wait at once (the caller then checks `stop`)."""
    await wait_event(stop, seconds)


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    ENDED = "ended"  # confirmed by the backend: the job is over
    UNKNOWN = "unknown"  # the probe failed or was not conclusive; never a reason to end a swarm


@dataclass(frozen=True)
class JobReport:
    state: JobState
    reason: str | None = None  # e.g. Slurm's pending reason or terminal state
    failed: bool = False  # for ENDED: did the job end in a failed state


class Provider(ABC):
    # True when the backend's probe can say why a job ended (Slurm's CANCELLED, TIMEOUT, ...): then a
    # swarm whose node programs all exited cleanly ends at the probe, with the backend's reason.
    probe_tells_why_jobs_end: bool = False

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    async def start(self, sink: LinesSink) -> None:
        """Begin background work (followers); sink receives outbox lines."""

    async def stop(self) -> None:
        """Stop background work; jobs keep running."""

    @abstractmethod
    async def launch(self, spec: LaunchSpec, progress: Progress, stop: asyncio.Event) -> str:
        """The swarm's job id: of the job already started for it, if there is one (a launch resumed after
        a router restart never starts two), else of a job started now.  Raises LaunchRejected with the
        backend's reason, and LaunchStopped once `stop` is set (never starting a job after that)."""

    @abstractmethod
    async def find_job(self, swarm_id: str) -> str | None:
        """The id of the job started for this swarm, if the backend has one; never starts a job.  Raises
        when the backend cannot answer now."""

    @abstractmethod
    async def probe(self, job_ids: Sequence[str]) -> dict[str, JobReport]:
        """One batched look at all of this provider's jobs."""

    def running_nodes(self, job_id: str) -> set[int] | None:
        """The job's nodes whose processes the backend sees running now, read at once on this host (an
        exit record is believed only once its node is not among them); None when only the backend's
        probe can tell (Slurm: the scheduler's record is the authority, so the probe ends the swarm)."""
        return None

    @abstractmethod
    async def terminate(self, job_id: str) -> None:
        """Stop the job; idempotent."""

    @abstractmethod
    async def deliver(self, job_id: str, node_id: int, line: bytes) -> None:
        """Append one line to a node's inbox."""

    @abstractmethod
    def follow(self, job_id: str, offsets: dict[int, int]) -> None:
        """Stream this job's outboxes to the sink, from the given byte offsets per node."""

    @abstractmethod
    def unfollow(self, job_id: str) -> None: ...

    async def drain(self, job_id: str) -> None:
        """Hand everything already written to this job's outboxes to the sink now (before an end is
        recorded, so exit records are read first)."""

    @abstractmethod
    async def archive(self, job_id: str, node_count: int, dest: Path) -> Path:
        """Pack the job's workspaces into dest (a .tar.gz) and return it."""

    def retained_paths(self, swarm_id: str, job_id: str | None, node_count: int, reused_by: str | None) -> list[str]:
        """A removed swarm's files under the provider's base, as paths relative to it.  reused_by: a newer
        swarm of this cluster was given the same job id, so the job's paths are that swarm's now."""
        return job_paths(job_id, node_count) if job_id is not None and reused_by is None else []

    @abstractmethod
    async def measure(self, paths: Sequence[str]) -> dict[str, int]:
        """Relative path → bytes, for those of the paths (relative to the base) that exist."""

    @abstractmethod
    async def delete(self, paths: Sequence[str]) -> list[tuple[str, int]]:
        """Delete those of the paths that exist, never outside the base nor through a symlink out of it;
        (absolute path, bytes) of each one deleted."""
