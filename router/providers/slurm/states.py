"""Slurm's job states → what the router may conclude from them.

Only a state Slurm itself reports as terminal ends a swarm; anything unrecognised is UNKNOWN.
"""

from __future__ import annotations

import re

from router.providers.base import JobReport, JobState

PENDING_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"})
RUNNING_STATES = frozenset(
    {"RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"}
)
ENDED_OK = frozenset({"COMPLETED", "CANCELLED"})
ENDED_FAILED = frozenset(
    {"FAILED", "NODE_FAIL", "TIMEOUT", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED", "SPECIAL_EXIT"}
)

# squeue's output format for a probe: job id, state, reason.
SQUEUE_FORMAT = "%i|%T|%r"


def report(job_id: str, state: str, reason: str | None = None) -> JobReport:
    """The report for one of Slurm's state names (sacct may add words: "CANCELLED by 1001")."""
    words = state.split()
    name = words[0].rstrip("+") if words else ""
    detail = reason if reason and reason not in ("None", "(null)") else None
    if name in PENDING_STATES:
        return JobReport(JobState.PENDING, reason=detail or name)
    if name in RUNNING_STATES:
        return JobReport(JobState.RUNNING, reason=None)
    if name in ENDED_OK or name in ENDED_FAILED:
        said = f"Slurm job {job_id} {state.strip()}" + (f" ({detail})" if detail else "")
        return JobReport(JobState.ENDED, reason=said, failed=name in ENDED_FAILED)
    return JobReport(JobState.UNKNOWN, reason=f"Slurm reported state {state!r} for job {job_id}")


def parse_squeue(text: str) -> dict[str, JobReport]:
    """`squeue -h -o '%i|%T|%r'` lines → report per job id."""
    reports = {}
    for line in text.splitlines():
        parts = line.strip().split("|", 2)
        if len(parts) == 3:
            reports[parts[0]] = report(parts[0], parts[1], parts[2])
    return reports


_SCONTROL_FIELD = re.compile(r"\b(JobId|JobState|Reason)=(\S+)")


def parse_scontrol(job_id: str, text: str) -> JobReport | None:
    """`scontrol show job -o ID` → its report; None when the answer does not describe that job."""
    fields = dict(_SCONTROL_FIELD.findall(text))
    if fields.get("JobId") != job_id or "JobState" not in fields:
        return None
    return report(job_id, fields["JobState"], fields.get("Reason"))


def parse_sacct(job_id: str, text: str) -> JobReport | None:
    """`sacct -n -P -o jobid,state -j ID` → the report of the job's own line (not its steps)."""
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 2 and parts[0] == job_id and parts[1]:
            return report(job_id, parts[1])
    return None
