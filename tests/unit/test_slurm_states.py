"""Reading Slurm's answers: only a terminal state Slurm reports ends a job; anything else is not a fact."""

from __future__ import annotations

import pytest

from router.providers.base import JobReport, JobState
from router.providers.slurm.states import parse_sacct, parse_scontrol, parse_squeue, report


def test_squeue_lines() -> None:
    text = "12|PENDING|Resources\n13|RUNNING|None\n14|PENDING|None\n15|COMPLETING|None\n\nbad line\n"
    assert parse_squeue(text) == {
        "12": JobReport(JobState.PENDING, "Resources"),
        "13": JobReport(JobState.RUNNING),
        "14": JobReport(JobState.PENDING, "PENDING"),
        "15": JobReport(JobState.RUNNING),
    }


TERMINAL = {"COMPLETED": False, "CANCELLED": False, "FAILED": True, "NODE_FAIL": True, "TIMEOUT": True}
TERMINAL |= {"OUT_OF_MEMORY": True, "BOOT_FAIL": True, "DEADLINE": True, "PREEMPTED": True}


@pytest.mark.parametrize(("state", "failed"), sorted(TERMINAL.items()))
def test_terminal_states_end_the_job(state: str, failed: bool) -> None:
    assert report("7", state) == JobReport(JobState.ENDED, f"Slurm job 7 {state}", failed)


def test_an_unknown_state_is_no_fact() -> None:
    assert report("7", "WEIRD").state is JobState.UNKNOWN
    assert report("7", "").state is JobState.UNKNOWN


def test_scontrol_show_job() -> None:
    text = "JobId=9 JobName=codeswarm-sw-1 UserId=swarm(1001) JobState=CANCELLED Reason=BeginTime Dependency=(null)"
    assert parse_scontrol("9", text) == JobReport(JobState.ENDED, "Slurm job 9 CANCELLED (BeginTime)", False)
    assert parse_scontrol("10", text) is None  # not the job we asked about
    assert parse_scontrol("9", "slurm_load_jobs error: Invalid job id specified") is None


def test_sacct_lines() -> None:
    text = "9|CANCELLED by 1001\n9.batch|CANCELLED\n"
    assert parse_sacct("9", text) == JobReport(JobState.ENDED, "Slurm job 9 CANCELLED by 1001", False)
    assert parse_sacct("9", "9.0|FAILED\n") is None
    assert parse_sacct("9", "9|\n") is None
    assert parse_sacct("9", "9|TIMEOUT\n") == JobReport(JobState.ENDED, "Slurm job 9 TIMEOUT", True)
