"""Asking Slurm about jobs over the cluster's connection.  A failed or unclear answer is never a fact."""

from __future__ import annotations

import re
import shlex

from router.providers.base import JobReport, JobState
from router.providers.slurm.states import SQUEUE_FORMAT, parse_sacct, parse_scontrol, parse_squeue
from router.ssh.connection import CommandResult, SshConnection, SshUnavailable

JOB_ID = re.compile(r"^\d{1,12}$")
ACCOUNTING_DISABLED = "accounting storage is disabled"


TIMED_OUT = 124  # coreutils timeout's status when it stopped the command


KILL_GRACE_S = 2  # after the login node's own timeout: the command's end reaches us before ours fires


async def run_bounded(ssh: SshConnection, command: str, timeout_s: float) -> CommandResult:
    """Run a Slurm client command that the login node itself stops once timeout_s has passed: a client
    whose controller does not answer keeps retrying, and closing our channel does not stop it."""
    return await ssh.run(f"timeout -k 1 {max(1, round(timeout_s))} {command}", timeout_s + KILL_GRACE_S)


def failure(what: str, result: CommandResult, timeout_s: float) -> str:
    """Why a Slurm command failed, never empty."""
    if result.status == TIMED_OUT and not result.err:
        return f"{what} did not answer within {max(1, round(timeout_s))}s (is slurmctld up?)"
    return f"{what} failed: {result.err or f'exit status {result.status}'}"


def checked_job_id(job_id: str) -> str:
    if not JOB_ID.fullmatch(job_id):
        raise ValueError(f"{job_id!r} is not a Slurm job id")
    return job_id


class QueryFailed(RuntimeError):
    """Slurm answered with an error (e.g. the controller is down)."""


def unknown(reason: str) -> JobReport:
    return JobReport(JobState.UNKNOWN, reason=reason)


async def list_jobs(ssh: SshConnection, timeout_s: float, job_id: str | None = None) -> dict[str, JobReport]:
    """One squeue for every job of the cluster's user (or one job), finished ones Slurm still holds
    included.  Raises SshUnavailable or QueryFailed when there is no usable answer."""
    which = f"-j {checked_job_id(job_id)}" if job_id else "--me"
    result = await run_bounded(ssh, f"squeue {which} -h -t all -o {shlex.quote(SQUEUE_FORMAT)}", timeout_s)
    if result.status != 0:
        if job_id and "Invalid job id" in result.err:
            return {}  # Slurm no longer lists this job
        raise QueryFailed(failure("squeue", result, timeout_s))
    return parse_squeue(result.out)


async def look_up(ssh: SshConnection, job_id: str, timeout_s: float) -> JobReport:
    """A job squeue no longer lists: `scontrol show job`, then `sacct` (`sacct -c` without accounting)."""
    quoted = checked_job_id(job_id)
    try:
        shown = await run_bounded(ssh, f"scontrol show job -o {quoted}", timeout_s)
        if shown.status == 0 and (found := parse_scontrol(job_id, shown.out)) is not None:
            return found
        accounted = await run_bounded(ssh, f"sacct -n -P -o jobid,state -j {quoted}", timeout_s)
        if accounted.status != 0 and ACCOUNTING_DISABLED in accounted.err:
            accounted = await run_bounded(ssh, f"sacct -c -n -P -o jobid,state -j {quoted}", timeout_s)
    except SshUnavailable as exc:
        return unknown(str(exc))
    if accounted.status != 0:
        return unknown(f"job {job_id} is not in squeue and {failure('sacct', accounted, timeout_s)}")
    return parse_sacct(job_id, accounted.out) or unknown(f"Slurm has no record of job {job_id}")


async def find_by_name(ssh: SshConnection, name: str, timeout_s: float) -> str | None:
    """The id of a job of ours with this name that Slurm still holds, if any (raises when unsure)."""
    result = await run_bounded(ssh, f"squeue --me -h -t all --name={shlex.quote(name)} -o %i", timeout_s)
    if result.status != 0:
        raise QueryFailed(failure("squeue", result, timeout_s))
    ids = [line.strip() for line in result.out.splitlines() if JOB_ID.fullmatch(line.strip())]
    return ids[-1] if ids else None
