"""The Slurm provider: swarms as Slurm jobs on a cluster reached over SSH (see cluster.py).

Several providers (a cluster's presets) can share one cluster; each brings its own launch defaults.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from router.providers.base import JobReport, LaunchSpec, LinesSink, Progress, Provider, ProviderConfig
from router.providers.slurm.cluster import SlurmCluster
from router.providers.slurm.follower_channel import RemoteFollower
from router.retention_slurm import retired_dir, stage_subdir


class SlurmProvider(Provider):
    probe_tells_why_jobs_end = True

    def __init__(self, config: ProviderConfig, cluster: SlurmCluster) -> None:
        super().__init__(config)
        self.cluster = cluster

    def _follower(self) -> RemoteFollower:
        assert self.cluster.follower is not None, "provider not started"
        return self.cluster.follower

    async def start(self, sink: LinesSink) -> None:
        await self.cluster.start(sink)

    async def stop(self) -> None:
        await self.cluster.stop()

    async def launch(self, spec: LaunchSpec, progress: Progress, stop: asyncio.Event) -> str:
        return await self.cluster.submit(spec, progress, stop)

    async def find_job(self, swarm_id: str) -> str | None:
        return await self.cluster.find_job(swarm_id)

    async def probe(self, job_ids: Sequence[str]) -> dict[str, JobReport]:
        return await self.cluster.probe(job_ids)

    async def terminate(self, job_id: str) -> None:
        await self.cluster.cancel(job_id)

    async def deliver(self, job_id: str, node_id: int, line: bytes) -> None:
        await self.cluster.deliver(job_id, node_id, line)

    def follow(self, job_id: str, offsets: dict[int, int]) -> None:
        self._follower().follow(job_id, offsets)

    def unfollow(self, job_id: str) -> None:
        if self.cluster.follower is not None:
            self.cluster.follower.unfollow(job_id)

    async def drain(self, job_id: str) -> None:
        await self._follower().drain(job_id)

    async def archive(self, job_id: str, node_count: int, dest: Path) -> Path:
        return await self.cluster.archive(job_id, dest)

    def retained_paths(self, swarm_id: str, job_id: str | None, node_count: int, reused_by: str | None) -> list[str]:
        paths = super().retained_paths(swarm_id, job_id, node_count, reused_by)
        if job_id is not None and reused_by is not None:  # moved aside when the newer swarm was submitted
            paths.append(retired_dir(job_id, reused_by))
        return [*paths, stage_subdir(swarm_id)]

    async def measure(self, paths: Sequence[str]) -> dict[str, int]:
        return {relative: size for relative, _, size in await self.cluster.files(paths, delete=False)}

    async def delete(self, paths: Sequence[str]) -> list[tuple[str, int]]:
        return [(absolute, size) for _, absolute, size in await self.cluster.files(paths, delete=True)]
