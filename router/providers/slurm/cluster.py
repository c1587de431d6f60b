"""One Slurm cluster: its SSH connection, the node program on it, its outbox follower and its job list.

Shared by every provider (preset) of the cluster, so that a cluster has one connection, one follower
and one squeue per probe interval however many providers and swarms use it.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections.abc import Sequence
from pathlib import Path

import paramiko

from router.providers.base import (
    JobReport,
    JobState,
    LaunchRejected,
    LaunchSpec,
    LaunchStopped,
    LinesSink,
    Progress,
    pause_unless_stopped,
)
from router.providers.node_command import control_files
from router.providers.slurm.config import ClusterOptions
from router.providers.slurm.follower_channel import RemoteFollower
from router.providers.slurm.queries import (
    KILL_GRACE_S,
    QueryFailed,
    checked_job_id,
    failure,
    find_by_name,
    list_jobs,
    look_up,
    run_bounded,
    unknown,
)
from router.providers.slurm.script import job_name, sbatch_script, stage_dir
from router.providers.slurm.shipping import ProgramShipper
from router.providers.slurm.states import PENDING_STATES
from router.retention_remote import PATHS_PER_COMMAND, parsed_output, remote_command
from router.retention_slurm import release_command
from router.ssh.connection import SshConnection, SshRefused, SshUnavailable
from services.node.records import inbox_path
from services.settings import Settings

log = logging.getLogger(__name__)

REQUERY_S = 0.05  # pause between squeue calls while a fresh job settles or a cancel is confirmed
PROBE_TIMEOUT_MIN_S = 2.0
ALREADY_GONE = ("Invalid job id", "already completing or completed")


class SbatchAnswerLost(SshUnavailable):
    """sbatch was sent but its answer did not come back: a job may have been submitted."""


def _write_files(sftp: paramiko.SFTPClient, directory: str, files: dict[str, bytes]) -> None:
    try:
        sftp.mkdir(directory, 0o700)
    except OSError:
        sftp.stat(directory)  # it exists (a retried launch); anything else raises
    for name, content in files.items():
        with sftp.open(f"{directory}/{name}", "wb") as handle:
            handle.chmod(0o600)  # owner only, whatever the login node's umask (a key file among them)
            handle.write(content)


def _append(sftp: paramiko.SFTPClient, path: str, data: bytes) -> None:
    with sftp.open(path, "ab") as handle:  # O_APPEND on the server: the line lands whole at the end
        handle.write(data)


class SlurmCluster:
    def __init__(self, name: str, options: ClusterOptions, settings: Settings) -> None:
        self.name = name
        self.options = options
        self.base = options.base
        self.timeout_s = options.command_timeout_s
        self.ssh = SshConnection(options.target)
        self.shipper = ProgramShipper(self.ssh, options.base, settings.home / "bin", self.timeout_s)
        self.heartbeat_s = settings.heartbeat_interval_s
        self.follow_poll_s = settings.slurm_follow_poll_s
        self.settle_s = settings.slurm_launch_settle_s
        self.launch_window_s = settings.launch_timeout_s
        self.confirm_s = settings.terminate_grace_s + 5.0
        self.listing_max_age_s = settings.probe_interval_s / 2
        # a probe answers within its interval (squeue retries for ~20 s when slurmctld is down)
        self.probe_timeout_s = max(PROBE_TIMEOUT_MIN_S, min(self.timeout_s, settings.probe_interval_s))
        self.follower: RemoteFollower | None = None
        self._users = 0
        self._listing: tuple[float, dict[str, JobReport]] | None = None
        self._listing_task: asyncio.Task[dict[str, JobReport]] | None = None

    # ---- lifetime ------------------------------------------------------------------------------

    async def start(self, sink: LinesSink) -> None:
        self._users += 1
        if self.follower is None:
            self.follower = RemoteFollower(
                self.ssh, self._follower_command, sink, retry_max_s=self.options.target.reconnect_max_s
            )
            self.follower.start()

    async def stop(self) -> None:
        self._users -= 1
        if self._users > 0:
            return
        if self.follower is not None:
            await self.follower.stop()
            self.follower = None
        await self.ssh.close()

    async def _follower_command(self) -> str:
        program = await self.shipper.ensure()
        python = shlex.quote(self.options.python)
        return (
            f"env PYTHONPATH={shlex.quote(program)} {python} -s -m services.node.login_follower "
            f"--base {shlex.quote(self.base)} --poll-s {self.follow_poll_s:g}"
        )

    # ---- launch --------------------------------------------------------------------------------

    async def submit(self, spec: LaunchSpec, progress: Progress, stop: asyncio.Event) -> str:
        """The swarm's job: found by name, or submitted now.  A login node that does not answer is
        waited for up to the launch timeout; one that refuses us (host key, key file, user) rejects the
        launch at once, with what to fix.  sbatch runs only after squeue has said this swarm has no
        job — an earlier sbatch whose answer was lost, or one from before a router restart, may have
        submitted it, and a swarm never holds two allocations.  Once `stop` is set no sbatch is sent."""
        deadline = time.monotonic() + self.launch_window_s
        wait = self.options.target.reconnect_min_s
        last_error = ""
        maybe_submitted = False
        while True:
            if stop.is_set():
                raise LaunchStopped(maybe_started=maybe_submitted)
            try:
                found = await self.find_job(spec.swarm_id)
                if found is not None:
                    await self._release(found, spec.swarm_id)  # if an earlier attempt stopped before it
                    await progress("submitted", f"Slurm job {found} of this swarm is already on {self.name}")
                    return found
                maybe_submitted = False
                return await self._submit_once(spec, progress, stop)
            except SshRefused as exc:
                raise LaunchRejected(f"{self.name}: {exc}") from exc
            except (SshUnavailable, QueryFailed) as exc:
                maybe_submitted = maybe_submitted or isinstance(exc, SbatchAnswerLost)
                if time.monotonic() + wait > deadline:
                    raise LaunchRejected(
                        f"{self.name} did not answer for the launch timeout of {self.launch_window_s:g}s ({exc}); "
                        f"if a job named {job_name(spec.swarm_id)} appears there, cancel it"
                    ) from exc
                if str(exc) != last_error:
                    await progress("retrying", f"no answer from {self.name} ({exc}); trying again")
                last_error = str(exc)
            await pause_unless_stopped(stop, wait)
            wait = min(self.options.target.reconnect_max_s, wait * 2)

    async def _submit_once(self, spec: LaunchSpec, progress: Progress, stop: asyncio.Event) -> str:
        program = await self.shipper.ensure()
        stage = stage_dir(self.base, spec.swarm_id)
        script = sbatch_script(spec, self.base, self.options.python, program, self.heartbeat_s)
        files = {"job.sh": script.encode(), **control_files(spec)}
        await progress("staging", f"writing the job script to {stage} on {self.name}")
        await self.ssh.sftp(lambda sftp: _write_files(sftp, stage, files))
        command = (  # the job inherits the umask (SLURM_UMASK): Slurm's own output files are private too
            f"umask 077 && sbatch --parsable --hold {shlex.quote(stage + '/job.sh')} "
            f"|| {{ status=$?; rm -rf {shlex.quote(stage)}; exit $status; }}"
        )
        if stop.is_set():
            raise LaunchStopped(maybe_started=False)
        await progress("submitting", f"sbatch of {spec.node_count} nodes on {self.name}")
        self.invalidate_listing()
        try:
            result = await self.ssh.run(command, self.timeout_s)
        except SshRefused:
            raise  # no connection: sbatch never ran
        except SshUnavailable as exc:
            raise SbatchAnswerLost(str(exc)) from exc
        if result.status != 0:
            raise LaunchRejected(result.err or f"sbatch exited with status {result.status}")
        job_id = checked_job_id(result.out.strip().split(";")[0])
        await self._release(job_id, spec.swarm_id)
        await progress("submitted", f"Slurm job {job_id} submitted on {self.name}")
        await self._settle(job_id)
        return job_id

    async def _settle(self, job_id: str) -> None:
        """Give Slurm a moment to start the job or say why it waits (so a free cluster shows running)."""
        deadline = time.monotonic() + self.settle_s
        while time.monotonic() < deadline:
            try:
                report = (await list_jobs(self.ssh, self.timeout_s, job_id)).get(job_id)
            except (SshUnavailable, QueryFailed):
                return
            if report is None or report.state is not JobState.PENDING or report.reason not in PENDING_STATES:
                return
            await asyncio.sleep(REQUERY_S)

    async def find_job(self, swarm_id: str) -> str | None:
        return await find_by_name(self.ssh, job_name(swarm_id), self.timeout_s)

    async def _release(self, job_id: str, swarm_id: str) -> None:
        """Release the job submitted held, once an ended swarm's files under the same job id (the id
        repeated) are moved aside (router/retention_slurm.py).  Raises QueryFailed when that failed."""
        result = await self.ssh.run(
            release_command(self.base, job_id, swarm_id, self.timeout_s), self.timeout_s * 2 + KILL_GRACE_S
        )
        if result.status != 0:
            raise QueryFailed(failure(f"releasing job {job_id}", result, self.timeout_s))

    # ---- probe ---------------------------------------------------------------------------------

    def invalidate_listing(self) -> None:
        self._listing = None

    async def _jobs(self, job_ids: Sequence[str]) -> dict[str, JobReport]:
        """The cluster's job list: a recent one when it covers job_ids, else one fresh squeue (shared by
        callers that ask at the same time)."""
        if self._listing is not None:
            taken_at, listing = self._listing
            if time.monotonic() - taken_at < self.listing_max_age_s and all(j in listing for j in job_ids):
                return listing
        if self._listing_task is None:
            self._listing_task = asyncio.create_task(self._fresh_listing())
        task = self._listing_task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._listing_task is task:
                self._listing_task = None

    async def _fresh_listing(self) -> dict[str, JobReport]:
        listing = await list_jobs(self.ssh, self.probe_timeout_s)
        self._listing = (time.monotonic(), listing)
        return listing

    async def probe(self, job_ids: Sequence[str]) -> dict[str, JobReport]:
        try:
            listing = await self._jobs(job_ids)
        except (SshUnavailable, QueryFailed) as exc:
            return {job_id: unknown(str(exc)) for job_id in job_ids}
        reports = {}
        for job_id in job_ids:
            try:
                reports[job_id] = listing.get(job_id) or await look_up(self.ssh, job_id, self.probe_timeout_s)
            except ValueError as exc:
                reports[job_id] = unknown(str(exc))
        return reports

    # ---- terminate -----------------------------------------------------------------------------

    async def cancel(self, job_id: str) -> None:
        """scancel, then wait until Slurm confirms the end (idempotent: a finished job is fine)."""
        quoted = checked_job_id(job_id)
        self.invalidate_listing()
        result = await run_bounded(self.ssh, f"scancel {quoted}", self.timeout_s)
        if result.status != 0 and not any(words in result.err for words in ALREADY_GONE):
            raise QueryFailed(failure(f"scancel {job_id}", result, self.timeout_s))
        deadline = time.monotonic() + self.confirm_s
        while time.monotonic() < deadline:
            report = (await list_jobs(self.ssh, self.timeout_s, job_id)).get(job_id)
            if report is None:
                report = await look_up(self.ssh, job_id, self.timeout_s)
            if report.state is JobState.ENDED:
                return
            await asyncio.sleep(REQUERY_S)
        log.warning("Slurm job %s not confirmed ended %ss after scancel", job_id, self.confirm_s)

    # ---- files ---------------------------------------------------------------------------------

    async def files(self, paths: Sequence[str], delete: bool) -> list[tuple[str, str, int]]:
        """Measure (or delete) paths under the base: (relative, absolute, bytes) of each one found."""
        found = []
        for first in range(0, len(paths), PATHS_PER_COMMAND):
            command = remote_command(self.base, paths[first : first + PATHS_PER_COMMAND], delete)
            result = await self.ssh.run(command, self.timeout_s)
            if result.status != 0:
                raise RuntimeError(f"{'deleting' if delete else 'measuring'} under {self.base} failed: {result.err}")
            found += parsed_output(result.out)
        return found

    async def deliver(self, job_id: str, node_id: int, line: bytes) -> None:
        path = inbox_path(self.base, checked_job_id(job_id), node_id)
        await self.ssh.sftp(lambda sftp: _append(sftp, path, line))

    async def archive(self, job_id: str, dest: Path) -> Path:
        runs = shlex.quote(f"{self.base}/runs")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(".partial")
        with partial.open("wb") as out:
            result = await self.ssh.run(f"tar -czf - -C {runs} {checked_job_id(job_id)}", self.timeout_s, stdout=out)
        if result.status != 0:
            partial.unlink(missing_ok=True)
            raise RuntimeError(f"tar of job {job_id}'s workspaces failed: {result.err}")
        partial.replace(dest)
        return dest
