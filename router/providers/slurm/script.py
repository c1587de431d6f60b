"""The sbatch script of a swarm: one job, one node program per node started by srun.

Every value on an #SBATCH line or in the shell part is checked against a strict pattern (again, after
the launch-field check) and shell-quoted; the job id is the only thing the batch shell expands.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from router.providers.base import LaunchSpec
from router.providers.node_command import node_arguments
from router.providers.slurm.config import SBATCH_OPTIONS, SLURM_FIELDS

JOB_NAME_PREFIX = "codeswarm-"
SWARM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TERM_WARNING_S = 60  # the nodes get SIGTERM this long before the time limit, to write their exit records
JOB_ID_FROM_SLURM = "${SLURM_JOB_ID}"  # expanded by the batch shell, on the first node of the job
_PATTERNS = {f.key: re.compile(f.pattern) for f in SLURM_FIELDS if f.pattern}


class UnsafeValue(ValueError):
    pass


def checked_swarm_id(swarm_id: str) -> str:
    if not SWARM_ID.fullmatch(swarm_id):
        raise UnsafeValue(f"swarm id {swarm_id!r} is not usable in a Slurm job name")
    return swarm_id


def job_name(swarm_id: str) -> str:
    return JOB_NAME_PREFIX + checked_swarm_id(swarm_id)


def stage_dir(base: str, swarm_id: str) -> str:
    """The swarm's directory on the cluster, created before submission: the script, the node programs'
    control files (system prompt, bundle) and Slurm's output file live here."""
    return f"{base}/swarms/{checked_swarm_id(swarm_id)}"


def sbatch_option(key: str, value: Any) -> str | None:
    """One `#SBATCH` line for a launch field's value (None when a flag is off)."""
    option = SBATCH_OPTIONS[key]
    if isinstance(value, bool):
        return f"#SBATCH {option}" if value else None
    if isinstance(value, int):
        if value < 1:
            raise UnsafeValue(f"{key} must be 1 or more, not {value}")
        return f"#SBATCH {option}={value}"
    pattern = _PATTERNS[key]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise UnsafeValue(f"{key}={value!r} does not match {pattern.pattern}")
    return f"#SBATCH {option}={shlex.quote(value)}"


def _shell_word(word: str) -> str:
    return f'"{JOB_ID_FROM_SLURM}"' if word == JOB_ID_FROM_SLURM else shlex.quote(word)


def sbatch_script(spec: LaunchSpec, base: str, python: str, program: str, heartbeat_s: float) -> str:
    stage = stage_dir(base, spec.swarm_id)
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name(spec.swarm_id)}",
        f"#SBATCH --nodes={spec.node_count}",
        f"#SBATCH --ntasks={spec.node_count}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --chdir={shlex.quote(stage)}",
        f"#SBATCH --output={shlex.quote(stage + '/slurm-%j.out')}",
        f"#SBATCH --signal=TERM@{TERM_WARNING_S}",
    ]
    for key in SBATCH_OPTIONS:
        if key in spec.params:
            line = sbatch_option(key, spec.params[key])
            if line is not None:
                lines.append(line)
    args = node_arguments(spec, base, JOB_ID_FROM_SLURM, heartbeat_s, stage, node_id=None)
    command = [python, program, *args]
    lines += [
        "export PYTHONUNBUFFERED=1",
        "# one node program per node; each takes its index from SLURM_NODEID",
        f"exec srun --nodes={spec.node_count} --ntasks={spec.node_count} --ntasks-per-node=1 --kill-on-bad-exit=0 "
        + " ".join(_shell_word(word) for word in command),
        "",
    ]
    return "\n".join(lines)
