"""Host-key checking: keys come from a known-hosts file; an unknown key is refused unless the cluster
explicitly allows accepting a new key on first contact (a changed key is always refused)."""

from __future__ import annotations

import logging
from pathlib import Path

import paramiko

log = logging.getLogger(__name__)


class UnknownHostKey(paramiko.SSHException):
    """The login node's key is not in the known-hosts file (and new keys are not accepted)."""


def _add_key_hint(known_hosts: Path) -> str:
    return (
        f"add the login node's key to {known_hosts} (ssh-keyscan -p PORT HOST >> {known_hosts}) "
        "or set accept_new_host_key = true for this cluster"
    )


class RejectUnknownHostKey(paramiko.MissingHostKeyPolicy):
    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise UnknownHostKey(
            f"host key of {hostname} ({key.get_name()}) not found in known_hosts {self.known_hosts}; "
            + _add_key_hint(self.known_hosts)
        )


class AcceptNewHostKey(paramiko.MissingHostKeyPolicy):
    """Like OpenSSH's StrictHostKeyChecking=accept-new: remember a host's first key in the file."""

    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        client.save_host_keys(str(self.known_hosts))
        log.warning("accepted the new host key of %s (%s) into %s", hostname, key.get_name(), self.known_hosts)


def configure_host_keys(client: paramiko.SSHClient, known_hosts: Path, accept_new: bool) -> None:
    if known_hosts.is_file():
        client.load_host_keys(str(known_hosts))
    elif not accept_new:
        raise UnknownHostKey(f"known-hosts file {known_hosts} does not exist; " + _add_key_hint(known_hosts))
    policy = AcceptNewHostKey(known_hosts) if accept_new else RejectUnknownHostKey(known_hosts)
    client.set_missing_host_key_policy(policy)
