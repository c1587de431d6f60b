"""A Slurm job id that repeats on one cluster (a reinstalled controller, a cleared state directory) never
mixes a new swarm with an ended one's files.

Paths under the base are named by job id (runs/<job>, agents/<job>, mailbox/*/<job>_NN.jsonl).  A
launch submits its job held (``sbatch --hold``), so no node program of it can start; then, in one
command, it moves whatever the base still holds under that job id — an ended swarm's leftovers — to
retired/<job>-<new swarm id>/ and releases the job.  The router starts following the job only after
that, so it never reads an old outbox and a node never reads an old inbox.  The retention policy
deletes a retired directory with the files of the swarm it came from.
"""

from __future__ import annotations

import shlex

from router.providers.slurm.queries import checked_job_id
from router.providers.slurm.script import checked_swarm_id
from router.retention_paths import checked_relative

HELD = "JobHeldUser"  # squeue's %r for a job submitted with --hold


def retired_dir(job_id: str, swarm_id: str) -> str:
    """Where the files an ended swarm left under job_id went when swarm_id was given the same id."""
    return checked_relative(f"retired/{checked_job_id(job_id)}-{checked_swarm_id(swarm_id)}")


def stage_subdir(swarm_id: str) -> str:
    """The swarm's own directory (script, control files, Slurm's output), relative to the base."""
    return checked_relative(f"swarms/{checked_swarm_id(swarm_id)}")


def release_command(base: str, job_id: str, swarm_id: str, timeout_s: float) -> str:
    """While the job is still held: move the job id's leftovers aside, then release it.  A job that is
    no longer held (released by an earlier call: its files are its own now) or gone is left alone.
    Exits non-zero, saying why on stderr, when Slurm or the move failed (the caller tries again)."""
    job = checked_job_id(job_id)
    dest = shlex.quote(retired_dir(job, swarm_id))
    bounded = f"timeout -k 1 {max(1, round(timeout_s))}"  # a client whose controller is down retries on
    leftovers = f"runs/{job} agents/{job} mailbox/inbox/{job}_*.jsonl mailbox/outbox/{job}_*.jsonl"
    return (
        f"umask 077 && cd {shlex.quote(base)} || exit 2\n"
        f"reason=$({bounded} squeue -h -t all -j {job} -o %r 2>&1) || {{\n"
        '  case "$reason" in *"Invalid job id"*) exit 0 ;; esac\n'
        '  echo "squeue: ${reason:-no answer}" >&2; exit 3\n'
        "}\n"
        f'[ "$reason" = {HELD} ] || exit 0\n'
        f"for rel in {leftovers}; do\n"
        '  [ -e "$rel" ] || [ -L "$rel" ] || continue\n'
        f'  mkdir -p {dest}/"${{rel%/*}}" && mv -- "$rel" {dest}/"$rel" || exit 4\n'
        "done\n"
        f"{bounded} scontrol release {job}"
    )
