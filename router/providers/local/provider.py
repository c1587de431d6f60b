"""The local provider: node programs as child processes of the router's host, same mailbox layout."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path

from router.providers.base import (
    JobReport,
    JobState,
    LaunchSpec,
    LaunchStopped,
    LinesSink,
    Progress,
    Provider,
    ProviderConfig,
)
from router.providers.local.outbox_poller import LocalOutboxFollower
from router.providers.local.processes import is_node_process, reap, signal_process
from router.providers.local.run_as import RunAs, enter_only
from router.providers.node_command import control_files, node_arguments, node_environment
from router.retention_files import delete_under, measure_under
from services.node.records import agent_home_path, inbox_path, node_tag, outbox_path, workspace_path
from services.node.zipapp import build_zipapp


def local_job_id(swarm_id: str) -> str:
    """Derived from the swarm id, so a retried launch finds the job it may already have started."""
    return f"local-{swarm_id}"


# The router's directories under base; with a run-as user they are enterable (0711) to reach the node's own.
BASE_DIRS = ("mailbox", "mailbox/inbox", "mailbox/outbox", "runs", "bin", "agents")
NODE_INPUTS = "inputs"  # with a run-as user: the job's files its nodes read (the user's), beside control


class LocalProvider(Provider):
    def __init__(
        self,
        config: ProviderConfig,
        base: Path,
        heartbeat_s: float,
        poll_s: float,
        grace_s: float,
        run_as: str = "",
        python: str = sys.executable,
        nice: int = 0,
    ) -> None:
        """run_as: the Unix user the nodes run as (CODESWARM_LOCAL_RUN_AS; the router must be root),
        empty = the router's own; python: the interpreter of the node programs (CODESWARM_LOCAL_PYTHON);
        nice: how much lower the nodes' CPU priority is than the router's (CODESWARM_LOCAL_NODE_NICE)."""
        super().__init__(config)
        self.base = base
        self.heartbeat_s = heartbeat_s
        self.poll_s = poll_s
        self.grace_s = grace_s
        self.run_as = RunAs.of(run_as) if run_as else None
        self.python = python
        self.nice = nice
        self.follower: LocalOutboxFollower | None = None
        self._children: set[int] = set()

    def _control_dir(self, job_id: str) -> Path:
        return self.base / "runs" / job_id / "control"

    def _pid_file(self, job_id: str, node_id: int) -> Path:
        return self._control_dir(job_id) / f"node_{node_tag(node_id)}.pid"

    def _node_pids(self, job_id: str) -> dict[int, int]:
        """node id → the pid the provider started it as (from the job's pid files)."""
        pids = {}
        for pid_file in sorted(self._control_dir(job_id).glob("node_*.pid")):
            try:
                pids[int(pid_file.stem.removeprefix("node_"))] = int(pid_file.read_text())
            except (OSError, ValueError):
                continue
        return pids

    def _pids(self, job_id: str) -> list[int]:
        return list(self._node_pids(job_id).values())

    def running_nodes(self, job_id: str) -> set[int] | None:
        pids = self._node_pids(job_id)
        if not pids:
            return None
        return {node_id for node_id, pid in pids.items() if is_node_process(pid, job_id)}

    async def start(self, sink: LinesSink) -> None:
        if self.run_as is None:
            for sub in BASE_DIRS:
                (self.base / sub).mkdir(parents=True, exist_ok=True)
        else:
            await asyncio.to_thread(self._prepare_run_as, self.run_as)
        self.follower = LocalOutboxFollower(str(self.base), sink, self.poll_s)
        self.follower.start()

    def _prepare_run_as(self, run_as: RunAs) -> None:
        """The way to the nodes' files open to the run-as user, and proof that it can run the node
        program; a RunAsError (start-up refused) names what stands in the way."""
        run_as.check_interpreter(self.python)
        for sub in ("", *BASE_DIRS):
            enter_only(self.base / sub)
        run_as.check_base(self.base)
        run_as.check_runs(self.python, self._program(), self.base)

    def _program(self) -> Path:
        """The node program's zipapp; with a run-as user, the router's, readable by the user's group."""
        program = build_zipapp(self.base / "bin")
        if self.run_as is not None:
            os.chown(program, -1, self.run_as.gid)
            program.chmod(0o750)
        return program

    async def stop(self) -> None:
        if self.follower:
            await self.follower.stop()

    async def launch(self, spec: LaunchSpec, progress: Progress, stop: asyncio.Event) -> str:
        job_id = local_job_id(spec.swarm_id)
        if self._control_dir(job_id).is_dir():  # started before a router restart
            return job_id
        if stop.is_set():
            raise LaunchStopped(maybe_started=False)
        program = await asyncio.to_thread(self._program)
        control = self._control_dir(job_id)
        control.mkdir(mode=0o700, parents=True, exist_ok=True)
        inputs = control if self.run_as is None else await asyncio.to_thread(self._give_nodes, job_id, spec.node_count)
        for name, content in control_files(spec).items():
            fd = os.open(inputs / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            if self.run_as is not None:
                os.chown(inputs / name, self.run_as.uid, self.run_as.gid)
        await progress("starting", f"starting {spec.node_count} node programs on this host")
        for node_id in range(spec.node_count):
            args = node_arguments(spec, str(self.base), job_id, self.heartbeat_s, str(inputs), node_id)
            args += ["--nice", str(self.nice)]
            pid = await asyncio.to_thread(self._spawn, [self.python, str(program), *args], control, node_id)
            self._children.add(pid)
            self._pid_file(job_id, node_id).write_text(str(pid))
        return job_id

    async def find_job(self, swarm_id: str) -> str | None:
        job_id = local_job_id(swarm_id)
        return job_id if self._control_dir(job_id).is_dir() else None

    def _give_nodes(self, job_id: str, node_count: int) -> Path:
        """With a run-as user: each node's mailbox files, workspace and agent home made the user's own,
        on the way through the router's enter-only directories (the job's control dir, with its pid
        files and logs, stays the router's only); the directory of the files the nodes read."""
        assert self.run_as is not None
        base = str(self.base)
        enter_only(self.base / "runs" / job_id)
        enter_only(self.base / "agents" / job_id)
        inputs = self.base / "runs" / job_id / NODE_INPUTS
        self.run_as.give_directory(inputs)
        for node_id in range(node_count):
            self.run_as.give_file(Path(inbox_path(base, job_id, node_id)))
            self.run_as.give_file(Path(outbox_path(base, job_id, node_id)))
            self.run_as.give_directory(Path(workspace_path(base, job_id, node_id)))
            self.run_as.give_directory(Path(agent_home_path(base, job_id, node_id)))
        return inputs

    def _spawn(self, argv: list[str], control: Path, node_id: int) -> int:
        env, as_user = node_environment(), {}
        if self.run_as is not None:
            env, as_user = self.run_as.environment(env), self.run_as.popen_options()
        with open(control / f"node_{node_tag(node_id)}.log", "ab") as log_file:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.base,
                start_new_session=True,  # nodes outlive a router crash
                **as_user,
            )
        return process.pid

    async def probe(self, job_ids: Sequence[str]) -> dict[str, JobReport]:
        for pid in list(self._children):
            reap(pid)
        reports = {}
        for job_id in job_ids:
            pids = self._pids(job_id)
            if not pids:  # cannot see the job's pid files: that proves nothing about the nodes
                reports[job_id] = JobReport(JobState.UNKNOWN, reason=f"no pid files under {self._control_dir(job_id)}")
            elif any(is_node_process(pid, job_id) for pid in pids):
                reports[job_id] = JobReport(JobState.RUNNING)
            else:
                reports[job_id] = JobReport(
                    JobState.ENDED, reason="every node process of this job has gone from this host", failed=True
                )
        return reports

    async def terminate(self, job_id: str) -> None:
        pids = self._pids(job_id)
        for pid in pids:
            signal_process(pid, job_id, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while time.monotonic() < deadline:
            for pid in pids:
                reap(pid)
            if not any(is_node_process(pid, job_id) for pid in pids):
                return
            await asyncio.sleep(0.05)
        for pid in pids:
            signal_process(pid, job_id, signal.SIGKILL)
            reap(pid)

    async def deliver(self, job_id: str, node_id: int, line: bytes) -> None:
        fd = os.open(inbox_path(str(self.base), job_id, node_id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def follow(self, job_id: str, offsets: dict[int, int]) -> None:
        assert self.follower is not None, "provider not started"
        self.follower.follow(job_id, offsets)

    def unfollow(self, job_id: str) -> None:
        if self.follower:
            self.follower.unfollow(job_id)

    async def drain(self, job_id: str) -> None:
        if self.follower:
            await self.follower.drain()

    async def archive(self, job_id: str, node_count: int, dest: Path) -> Path:
        def pack() -> Path:
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = dest.with_suffix(".partial")
            with tarfile.open(partial, "w:gz") as tar:
                for node_id in range(node_count):
                    workspace = self.base / "runs" / job_id / f"node_{node_tag(node_id)}"
                    if workspace.is_dir():
                        tar.add(workspace, arcname=f"{job_id}/node_{node_tag(node_id)}")
            partial.replace(dest)
            return dest

        return await asyncio.to_thread(pack)

    async def measure(self, paths: Sequence[str]) -> dict[str, int]:
        return await asyncio.to_thread(measure_under, self.base, paths)

    async def delete(self, paths: Sequence[str]) -> list[tuple[str, int]]:
        return await asyncio.to_thread(delete_under, self.base, paths)
