"""Smoke test of the loopback Slurm lab, used the way Codeswarm uses a cluster: paramiko as ``swarm``."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import paramiko
import pytest

if TYPE_CHECKING:
    from tests.slurm.conftest import SlurmLab

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL"}


def node_states(lab: SlurmLab) -> set[str]:
    rc, out, err = lab.ssh_run("sinfo -h -N -o '%N %T'")
    assert rc == 0, err
    return {line.strip() for line in out.splitlines() if line.strip()}


def wait_nodes_idle(lab: SlurmLab, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    states: set[str] = set()
    while time.monotonic() < deadline:
        states = node_states(lab)
        if states == {"node1 idle", "node2 idle"}:
            return
        time.sleep(0.1)
    pytest.fail(f"nodes not idle after {timeout}s: {sorted(states)}")


def submit(lab: SlurmLab, args: str) -> str:
    rc, out, err = lab.ssh_run(f"sbatch --parsable {args}")
    assert rc == 0, f"sbatch failed: {err}"
    return out.strip().split(";")[0]


def test_login_as_swarm_with_slurm_conf(slurm_lab: SlurmLab) -> None:
    rc, out, err = slurm_lab.ssh_run('id -un; printf "%s\\n" "$SLURM_CONF"; test -w "$HOME/codeswarm"')
    assert rc == 0, err
    assert out.split() == [slurm_lab.ssh_user, slurm_lab.slurm_conf]


def test_unknown_host_key_is_rejected(slurm_lab: SlurmLab) -> None:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.SSHException):
        client.connect(
            slurm_lab.ssh_host,
            port=slurm_lab.ssh_port,
            username=slurm_lab.ssh_user,
            key_filename=slurm_lab.ssh_key,
            allow_agent=False,
            look_for_keys=False,
            timeout=10,
        )
    client.close()


def test_two_idle_nodes(slurm_lab: SlurmLab) -> None:
    assert node_states(slurm_lab) == {"node1 idle", "node2 idle"}


def test_two_node_job_over_sftp(slurm_lab: SlurmLab) -> None:
    tag = uuid.uuid4().hex[:12]
    workdir = f"{slurm_lab.remote_base}/smoke-{tag}"
    script = "\n".join(
        [
            "#!/bin/bash",
            f"#SBATCH --job-name=lab-smoke-{tag}",
            "#SBATCH --nodes=2",
            "#SBATCH --ntasks=2",
            "#SBATCH --ntasks-per-node=1",
            f"#SBATCH --chdir={workdir}",
            f"#SBATCH --output={workdir}/slurm-%j.out",
            """srun bash -c 'printf "%s\\n" "$SLURM_NODEID" > "task_$SLURM_PROCID.txt"'""",
            "",
        ]
    )
    with slurm_lab.sftp() as sftp:
        sftp.mkdir(workdir)
        with sftp.open(f"{workdir}/job.sh", "w") as f:
            f.write(script)

    job_id = submit(slurm_lab, f"{workdir}/job.sh")
    state = slurm_lab.wait_job_state(job_id, TERMINAL, timeout=60)
    assert state == "COMPLETED"
    assert (job_id, f"lab-smoke-{tag}", "COMPLETED") in slurm_lab.squeue_all()

    with slurm_lab.sftp() as sftp:
        node_ids = set()
        for task in (0, 1):
            with sftp.open(f"{workdir}/task_{task}.txt") as f:
                node_ids.add(f.read().decode().strip())
    assert node_ids == {"0", "1"}


def test_partition_limit_rejected_at_submission(slurm_lab: SlurmLab) -> None:
    rc, out, err = slurm_lab.ssh_run("sbatch -p small --nodes=2 --wrap true")
    assert rc != 0
    assert out == ""
    assert "Node count specification invalid" in err


def test_slurmctld_outage_round_trip(slurm_lab: SlurmLab) -> None:
    """A job keeps running while slurmctld is away; afterwards the cluster takes new work."""
    running = submit(slurm_lab, f"--chdir={slurm_lab.remote_base} --output=/dev/null --wrap 'srun sleep 120'")
    assert slurm_lab.wait_job_state(running, {"RUNNING"} | TERMINAL, timeout=60) == "RUNNING"
    slurm_lab.stop_slurmctld()
    try:
        rc, out, _ = slurm_lab.ssh_run("scontrol ping")
        assert "DOWN" in out, out
        assert rc != 0
    finally:
        slurm_lab.start_slurmctld()
    assert slurm_lab.wait_job_state(running, {"RUNNING"} | TERMINAL, timeout=10) == "RUNNING"
    rc, _, err = slurm_lab.ssh_run(f"scancel {running}")
    assert rc == 0, err
    assert slurm_lab.wait_job_state(running, TERMINAL, timeout=30) == "CANCELLED"
    wait_nodes_idle(slurm_lab)
    job_id = submit(slurm_lab, f"--chdir={slurm_lab.remote_base} --output=/dev/null --wrap 'srun true'")
    assert slurm_lab.wait_job_state(job_id, TERMINAL, timeout=60) == "COMPLETED"


def test_sshd_restart_round_trip(slurm_lab: SlurmLab) -> None:
    with slurm_lab.ssh() as client:
        slurm_lab.restart_sshd()
        transport = client.get_transport()
        deadline = time.monotonic() + 10
        while transport is not None and transport.is_active() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert transport is None or not transport.is_active(), "old session survived the sshd restart"
    assert node_states(slurm_lab) == {"node1 idle", "node2 idle"}
