"""Host keys of the login node, through the router's own SSH connection to the lab's real sshd:
a known key connects, an unknown one is refused unless the cluster accepts new keys (then it is
remembered), and a changed key is refused even then."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import paramiko
import pytest

from router.ssh.connection import SshConnection, SshTarget, SshUnavailable
from tests.slurm.conftest import SlurmLab

NewConnection = Callable[[Path, bool], SshConnection]


@pytest.fixture
async def connect(slurm_lab: SlurmLab) -> AsyncIterator[NewConnection]:
    opened: list[SshConnection] = []

    def new(known_hosts: Path, accept_new: bool) -> SshConnection:
        target = SshTarget(
            host=slurm_lab.ssh_host,
            port=slurm_lab.ssh_port,
            user=slurm_lab.ssh_user,
            key_file=Path(slurm_lab.ssh_key),
            known_hosts=known_hosts,
            accept_new_host_key=accept_new,
        )
        opened.append(SshConnection(target))
        return opened[-1]

    yield new
    for connection in opened:
        await connection.close()


def host_entry(slurm_lab: SlurmLab) -> str:
    return f"[{slurm_lab.ssh_host}]:{slurm_lab.ssh_port}"


def lab_host_key(slurm_lab: SlurmLab) -> paramiko.PKey:
    keys = paramiko.HostKeys(slurm_lab.known_hosts).lookup(host_entry(slurm_lab))
    assert keys is not None
    return next(iter(keys.values()))


async def test_the_known_key_connects(slurm_lab: SlurmLab, connect: NewConnection) -> None:
    result = await connect(Path(slurm_lab.known_hosts), False).run("id -un", 10)
    assert result.status == 0 and result.out.strip() == slurm_lab.ssh_user


async def test_an_unknown_key_is_refused_unless_new_keys_are_accepted(
    slurm_lab: SlurmLab, connect: NewConnection, tmp_path: Path
) -> None:
    missing = tmp_path / "ssh" / "known_hosts"
    with pytest.raises(SshUnavailable, match=r"does not exist.*accept_new_host_key = true"):
        await connect(missing, False).run("true", 10)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(SshUnavailable, match="not found in known_hosts"):
        await connect(empty, False).run("true", 10)
    assert empty.read_text() == ""


async def test_accepting_new_keys_remembers_the_first_key_seen(
    slurm_lab: SlurmLab, connect: NewConnection, tmp_path: Path
) -> None:
    remembered = tmp_path / "ssh" / "known_hosts"
    assert (await connect(remembered, True).run("true", 10)).status == 0
    keys = paramiko.HostKeys(str(remembered)).lookup(host_entry(slurm_lab))
    assert keys is not None and list(keys.values()) == [lab_host_key(slurm_lab)]
    # the next connection knows the key: nothing is added again
    before = remembered.read_text()
    assert (await connect(remembered, False).run("true", 10)).status == 0
    assert remembered.read_text() == before


async def test_a_changed_key_is_refused_even_when_new_keys_are_accepted(
    slurm_lab: SlurmLab, connect: NewConnection, tmp_path: Path
) -> None:
    impostor = paramiko.Ed25519Key.from_private_key_file(slurm_lab.ssh_key)  # any other ed25519 key
    assert impostor != lab_host_key(slurm_lab)
    stale = tmp_path / "known_hosts"
    stale.write_text(f"{host_entry(slurm_lab)} {impostor.get_name()} {impostor.get_base64()}\n")
    before = stale.read_text()
    with pytest.raises(SshUnavailable, match="BadHostKeyException"):
        await connect(stale, True).run("true", 10)
    assert stale.read_text() == before
