"""The node program on the cluster: one zipapp under <base>/bin, named by its content hash, sent once."""

from __future__ import annotations

import asyncio
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from router.ssh.connection import SshConnection
from services.node.zipapp import build_zipapp

BASE_DIRS = ("bin", "mailbox/inbox", "mailbox/outbox", "runs", "swarms")


class ShippingFailed(RuntimeError):
    pass


def _upload_if_missing(sftp: paramiko.SFTPClient, local: Path, remote: str) -> None:
    """Put `local` at `remote` unless a file of the same size is there (it is named by its content)."""
    size = local.stat().st_size
    try:
        if sftp.stat(remote).st_size == size:
            return
    except FileNotFoundError:
        pass
    partial = f"{remote}.{os.getpid()}.partial"
    sftp.put(str(local), partial)
    sftp.chmod(partial, 0o700)  # its owner runs it, whatever the login node's umask
    sftp.posix_rename(partial, remote)  # atomic: a node never starts from half a file


@dataclass(eq=False)
class ProgramShipper:
    ssh: SshConnection
    base: str
    local_dir: Path
    timeout_s: float
    _ready: str | None = field(default=None, init=False)  # the remote path shipped last
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def ensure(self) -> str:
        """The remote path of the current node program; the base directories exist afterwards."""
        async with self._lock:
            local = await asyncio.to_thread(build_zipapp, self.local_dir)
            remote = f"{self.base}/bin/{local.name}"
            if self._ready == remote:
                return remote
            dirs = " ".join(
                shlex.quote(path)
                for path in [self.base, f"{self.base}/mailbox", *(f"{self.base}/{sub}" for sub in BASE_DIRS)]
            )
            # owner only, whatever the login node's umask; directories an older version made 0755 too
            made = await self.ssh.run(f"umask 077 && mkdir -p {dirs} && chmod 700 {dirs}", self.timeout_s)
            if made.status != 0:
                raise ShippingFailed(f"cannot create the directories under {self.base}: {made.err}")
            await self.ssh.sftp(lambda sftp: _upload_if_missing(sftp, local, remote))
            self._ready = remote
            return remote
