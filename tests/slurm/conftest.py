"""The loopback Slurm lab for tests/slurm: a real slurmctld, two slurmd's and an sshd login node.

``slurm_lab`` (session scope) runs ``lab/up.sh`` (idempotent; it installs the Debian packages when
they are missing) and yields a :class:`SlurmLab`. At session end it runs ``lab/down.sh`` only if this
session's ``up.sh`` started any daemon; a lab that was already running is left running.
Spec: /work/shared/notes/slurm-test-cluster.md.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from tests.support.servers import free_port

HERE = Path(__file__).resolve().parent
LAB_SCRIPTS = HERE / "lab"
UP_TIMEOUT_S = 600  # a fresh machine installs packages first (~10 s measured, more on a slow mirror)
SCRIPT_TIMEOUT_S = 120


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.slurm)


def _run_script(
    name: str,
    *args: str,
    lab_dir: str | None = None,
    timeout: float = SCRIPT_TIMEOUT_S,
    knobs: dict[str, str] | None = None,
) -> str:
    """Run a lab script as the current (root) user; return its combined output or fail the test.
    knobs: more SLURM_LAB_* settings (ports) for up.sh."""
    env = {**os.environ, **(knobs or {})}
    if lab_dir is not None:
        env["SLURM_LAB_DIR"] = lab_dir
    proc = subprocess.run(
        ["bash", str(LAB_SCRIPTS / name), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"{name} {' '.join(args)} failed (rc={proc.returncode}):\n{proc.stdout}", pytrace=False)
    return proc.stdout


def parse_lab_env(path: Path) -> dict[str, str]:
    """Parse the shell-style KEY=VALUE lines that up.sh writes."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        (word,) = shlex.split(line)
        key, _, value = word.partition("=")
        values[key] = value
    return values


@dataclass(frozen=True)
class SlurmLab:
    """A running lab, as described by ``$SLURM_LAB_DIR/lab.env``."""

    lab_dir: str  # SLURM_LAB_DIR
    slurm_conf: str  # SLURM_CONF (sshd sets it for every login session too)
    ssh_host: str  # LAB_SSH_HOST
    ssh_port: int  # LAB_SSH_PORT
    ssh_user: str  # LAB_SSH_USER
    ssh_key: str  # LAB_SSH_KEY: the client's ed25519 private key
    known_hosts: str  # LAB_KNOWN_HOSTS: "[127.0.0.1]:PORT ssh-ed25519 ..."
    remote_base: str  # LAB_REMOTE_BASE: a directory in the lab user's home, owned by that user
    started_pids: str  # LAB_STARTED_PIDS: "NAME PID STARTTIME" per daemon the lab scripts started
    started: bool  # True if this session's up.sh started at least one daemon

    @classmethod
    def from_env_file(cls, path: Path, *, started: bool) -> SlurmLab:
        v = parse_lab_env(path)
        return cls(
            lab_dir=v["SLURM_LAB_DIR"],
            slurm_conf=v["SLURM_CONF"],
            ssh_host=v["LAB_SSH_HOST"],
            ssh_port=int(v["LAB_SSH_PORT"]),
            ssh_user=v["LAB_SSH_USER"],
            ssh_key=v["LAB_SSH_KEY"],
            known_hosts=v["LAB_KNOWN_HOSTS"],
            remote_base=v["LAB_REMOTE_BASE"],
            started_pids=v["LAB_STARTED_PIDS"],
            started=started,
        )

    # --- SSH as the lab user (the way Codeswarm reaches a login node) -------------------------

    def connect(self, timeout: float = 10.0) -> paramiko.SSHClient:
        """A new paramiko client: key auth only, host key checked against the lab's known_hosts."""
        client = paramiko.SSHClient()
        client.load_host_keys(self.known_hosts)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            self.ssh_host,
            port=self.ssh_port,
            username=self.ssh_user,
            key_filename=self.ssh_key,
            allow_agent=False,
            look_for_keys=False,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
        )
        return client

    @contextlib.contextmanager
    def ssh(self) -> Iterator[paramiko.SSHClient]:
        client = self.connect()
        try:
            yield client
        finally:
            client.close()

    @contextlib.contextmanager
    def sftp(self) -> Iterator[paramiko.SFTPClient]:
        with self.ssh() as client, contextlib.closing(client.open_sftp()) as sftp:
            yield sftp

    def ssh_run(self, cmd: str, timeout: float = 60.0) -> tuple[int, str, str]:
        """Run ``cmd`` in a login session (new connection); return (exit code, stdout, stderr)."""
        with self.ssh() as client:
            _, stdout, stderr = client.exec_command(cmd, timeout=timeout)
            out = stdout.read().decode()
            err = stderr.read().decode()
            rc = stdout.channel.recv_exit_status()
        return rc, out, err

    def squeue_all(self) -> list[tuple[str, str, str]]:
        """(job id, job name, state) of every job slurmctld still knows, finished ones included."""
        rc, out, err = self.ssh_run("squeue -t all -h -o '%i|%j|%T'")
        if rc != 0:
            raise RuntimeError(f"squeue failed (rc={rc}): {err.strip()}")
        rows: list[tuple[str, str, str]] = []
        for line in out.splitlines():
            if line.strip():
                job_id, name, state = line.strip().split("|", 2)
                rows.append((job_id, name, state))
        return rows

    def wait_job_state(self, job_id: str, states: set[str], timeout: float = 60.0) -> str:
        """Poll ``squeue -t all`` until job ``job_id`` is in one of ``states``; return that state."""
        deadline = time.monotonic() + timeout
        last = "<not listed>"
        while True:
            rc, out, _ = self.ssh_run(f"squeue -t all -h -j {shlex.quote(job_id)} -o '%T'")
            if rc == 0 and out.strip():
                last = out.strip()
                if last in states:
                    return last
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not in {sorted(states)} after {timeout}s (last: {last})")
            time.sleep(0.1)

    # --- outages (root side, by pid files) -----------------------------------------------------

    def _ctl(self, action: str) -> None:
        _run_script("ctl.sh", action, lab_dir=self.lab_dir)

    def stop_slurmctld(self) -> None:
        """Stop slurmctld only; slurmd's, munged, sshd and running job steps keep running."""
        self._ctl("stop-slurmctld")

    def start_slurmctld(self) -> None:
        """Start slurmctld again (it recovers its jobs from state) and wait for ``scontrol ping`` UP."""
        self._ctl("start-slurmctld")

    def restart_sshd(self) -> None:
        """Stop the login node's sshd and its open sessions, start it again, wait until it answers."""
        self._ctl("restart-sshd")

    def stop_sshd(self) -> None:
        """Stop the login node's sshd and its open sessions: the cluster is unreachable until start_sshd."""
        self._ctl("stop-sshd")

    def start_sshd(self) -> None:
        """Start the login node's sshd again and wait until it answers."""
        self._ctl("start-sshd")

    def root_env(self) -> dict[str, str]:
        """Environment for running Slurm commands locally as root against the lab."""
        return {**os.environ, "SLURM_CONF": self.slurm_conf}


def bring_up(lab_dir: str | None = None, knobs: dict[str, str] | None = None) -> SlurmLab:
    """Run up.sh and return the lab it reports. Fails (pytest.fail) with up.sh's output."""
    out = _run_script("up.sh", lab_dir=lab_dir, timeout=UP_TIMEOUT_S, knobs=knobs)
    lines = [line.strip() for line in out.splitlines()]
    if "LAB_READY" not in lines:
        pytest.fail(f"up.sh did not report LAB_READY:\n{out}", pytrace=False)
    env_files = [line.partition("=")[2] for line in lines if line.startswith("LAB_ENV=")]
    if not env_files:
        pytest.fail(f"up.sh did not report LAB_ENV:\n{out}", pytrace=False)
    return SlurmLab.from_env_file(Path(env_files[-1]), started="LAB_STARTED=1" in lines)


def tear_down(lab: SlurmLab) -> None:
    _run_script("down.sh", lab_dir=lab.lab_dir)


def _free_port_pair() -> int:
    """A free port whose successor is free too (a lab's two slurmd's)."""
    while True:
        port = free_port()
        with contextlib.closing(socket.socket()) as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


@contextlib.contextmanager
def fresh_lab() -> Iterator[SlurmLab]:
    """A second (third, ...) cluster: a new lab directory, so its job ids start at 1, on ports of its
    own; stopped and deleted afterwards."""
    lab_dir = f"/var/tmp/codeswarm-lab-{uuid.uuid4().hex[:8]}"
    knobs = {
        "SLURM_LAB_CTLD_PORT": str(free_port()),
        "SLURM_LAB_NODE_PORT": str(_free_port_pair()),
        "SLURM_LAB_SSH_PORT": str(free_port()),
    }
    try:
        yield bring_up(lab_dir, knobs)
    finally:
        _run_script("down.sh", lab_dir=lab_dir)
        shutil.rmtree(lab_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def slurm_lab() -> Iterator[SlurmLab]:
    lab = bring_up()
    try:
        yield lab
    finally:
        if lab.started:
            tear_down(lab)


# --- Codeswarm routers on the lab (tests/slurm/test_slurm_*.py) ----------------------------------


@dataclass
class SlurmRouterKit:
    """Providers files for the lab, and the record of every swarm a test launches (cancelled at the end)."""

    lab: SlurmLab
    home: Path
    remote_base: str
    swarm_ids: list[str]

    def providers_file(self, **extra: object) -> str:
        return self.write_providers([self.entry(self.lab, "lab", self.remote_base, **extra)])

    @staticmethod
    def entry(lab: SlurmLab, provider_id: str, base: str, **extra: object) -> dict[str, object]:
        """A providers-file entry for a lab (a cluster)."""
        return {
            "id": provider_id,
            "backend": "slurm",
            "label": f"Loopback Slurm lab {provider_id}",
            "host": lab.ssh_host,
            "port": lab.ssh_port,
            "user": lab.ssh_user,
            "key_file": lab.ssh_key,
            "known_hosts": lab.known_hosts,
            "base": base,
            "python": "/usr/bin/python3",
            "reconnect_max_s": 1.0,
            "command_timeout_s": 10.0,
            "runtimes": ["mock", "shell"],
            **extra,
        }

    def write_providers(self, entries: list[dict[str, object]]) -> str:
        lines = []
        for entry in entries:
            lines += ["[[providers]]"] + [f"{key} = {toml_value(value)}" for key, value in entry.items()]
        path = self.home / "providers.toml"
        path.write_text("\n".join(lines) + "\n")
        return str(path)

    def job_names(self) -> set[str]:
        return {f"codeswarm-{swarm_id}" for swarm_id in self.swarm_ids}

    def live_jobs(self) -> list[tuple[str, str, str]]:
        names = self.job_names()
        return [row for row in self.lab.squeue_all() if row[1] in names and row[2] in ("PENDING", "RUNNING")]


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def slurm_kit(slurm_lab: SlurmLab, tmp_path: Path) -> Iterator[SlurmRouterKit]:
    """Every Slurm job of the swarms a test records is cancelled afterwards, and its files removed."""
    home = tmp_path / "kit"
    home.mkdir()
    remote_base = f"{slurm_lab.remote_base}/t-{uuid.uuid4().hex[:10]}"
    kit = SlurmRouterKit(slurm_lab, home, remote_base, [])
    yield kit
    if kit.swarm_ids:
        names = " ".join(shlex.quote(name) for name in sorted(kit.job_names()))
        slurm_lab.ssh_run(f'for name in {names}; do scancel --name="$name"; done')
        deadline = time.monotonic() + 30
        while kit.live_jobs() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not kit.live_jobs(), f"jobs left behind: {kit.live_jobs()}"
    slurm_lab.ssh_run(f"rm -rf {shlex.quote(remote_base)}")
