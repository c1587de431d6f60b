"""Host-key checking: keys come from a known-hosts file; an unknown key is refused unless the cluster
explicitly allows accepting a new key on first contact (a changed key is always refused)."""

from __future__ import annotations

import logging
from pathlib import Path

import paramiko

log = logging.getLogger(__name__)


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
        raise paramiko.SSHException(
            f"known-hosts file {known_hosts} does not exist; add the login node's key to it "
            "(ssh-keyscan) or set accept_new_host_key = true for this cluster"
        )
    client.set_missing_host_key_policy(AcceptNewHostKey(known_hosts) if accept_new else paramiko.RejectPolicy())
