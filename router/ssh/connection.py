"""One paramiko connection per cluster, reused for commands, SFTP and long-lived channels.

Every blocking paramiko call runs on the connection's own threads, never on the event loop.  A lost
connection is opened again on the next use; failed attempts back off exponentially, and while backing
off a use fails at once with `SshUnavailable` (the caller treats that as "no answer").
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

import paramiko

from router.ssh.hostkeys import UnknownHostKey, configure_host_keys

log = logging.getLogger(__name__)
T = TypeVar("T")

THREADS = 8  # per connection: one long-lived reader plus concurrent commands and SFTP


class SshUnavailable(ConnectionError):
    """No connection now (refused, timed out, host key rejected, or backing off after a failure)."""


class SshRefused(SshUnavailable):
    """A connection that cannot work until the cluster's settings change (an unknown or changed host
    key, a key file that cannot be used, a user or key the server refuses): trying again cannot help.
    The message says what to fix."""


@dataclass(frozen=True)
class SshTarget:
    host: str
    port: int
    user: str
    key_file: Path
    known_hosts: Path
    accept_new_host_key: bool = False
    connect_timeout_s: float = 10.0
    keepalive_s: float = 15.0
    reconnect_min_s: float = 0.25
    reconnect_max_s: float = 30.0

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


@dataclass(frozen=True)
class CommandResult:
    status: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode(errors="replace")

    @property
    def err(self) -> str:
        return self.stderr.decode(errors="replace").strip()


class SshConnection:
    def __init__(self, target: SshTarget) -> None:
        self.target = target
        self.commands_run = 0  # every remote command started, for figures and tests
        self.connects = 0  # connections opened (all but the first are reconnects: metrics)
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._sftp_transport: paramiko.Transport | None = None
        self._lock = threading.Lock()
        self._sftp_lock = threading.Lock()
        self._delay = target.reconnect_min_s
        self._retry_at = 0.0
        self._last_error = ""
        self._last_failure: type[SshUnavailable] = SshUnavailable  # SshRefused: retrying cannot help
        self._executor = ThreadPoolExecutor(THREADS, thread_name_prefix=f"ssh-{target.host}")
        self._closed = False

    # ---- running blocking work off the loop ----------------------------------------------------

    async def call(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    # ---- the connection ------------------------------------------------------------------------

    def transport(self) -> paramiko.Transport:
        """The live transport, connecting first when there is none (blocking; on a connection thread)."""
        with self._lock:
            if self._closed:
                raise SshUnavailable(f"connection to {self.target.label} is closed")
            client = self._client
            transport = client.get_transport() if client else None
            if transport is not None and transport.is_active():
                return transport
            self._drop()
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                raise self._last_failure(
                    f"{self.target.label} unreachable ({self._last_error}); next attempt in {wait:.1f}s"
                )
            try:
                self._client = self._connect()
            except (OSError, paramiko.SSHException, SshRefused) as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
                self._retry_at = time.monotonic() + self._delay
                self._delay = min(self.target.reconnect_max_s, self._delay * 2)
                log.warning("SSH to %s failed: %s", self.target.label, self._last_error)
                self._last_failure = SshRefused if isinstance(exc, SshRefused) else SshUnavailable
                raise self._last_failure(f"cannot connect to {self.target.label}: {self._last_error}") from exc
            self._delay, self._retry_at = self.target.reconnect_min_s, 0.0
            self.connects += 1
            transport = self._client.get_transport()
            assert transport is not None
            transport.set_keepalive(max(1, int(self.target.keepalive_s)))
            log.info("SSH connected to %s", self.target.label)
            return transport

    def _private_key(self) -> paramiko.PKey:
        try:
            return paramiko.PKey.from_path(self.target.key_file)
        except (OSError, ValueError, paramiko.SSHException) as exc:
            raise SshRefused(
                f"key_file {self.target.key_file} cannot be used ({type(exc).__name__}: {exc}); "
                "set key_file to a readable private key without a passphrase"
            ) from exc

    def _connect(self) -> paramiko.SSHClient:
        target = self.target
        key = self._private_key()
        client = paramiko.SSHClient()
        try:
            configure_host_keys(client, target.known_hosts, target.accept_new_host_key)
        except UnknownHostKey as exc:
            raise SshRefused(str(exc)) from exc
        sock = socket.create_connection((target.host, target.port), timeout=target.connect_timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small requests go out at once
        try:
            client.connect(
                target.host,
                port=target.port,
                sock=sock,
                username=target.user,
                pkey=key,
                allow_agent=False,
                look_for_keys=False,
                timeout=target.connect_timeout_s,
                banner_timeout=target.connect_timeout_s,
                auth_timeout=target.connect_timeout_s,
            )
        except BaseException as exc:
            client.close()
            sock.close()
            refusal = self._refusal(exc)
            if refusal is None:
                raise
            raise refusal from exc
        return client

    def _refusal(self, exc: BaseException) -> SshRefused | None:
        """The permanent failure exc stands for (with what to fix), or None for one worth retrying."""
        target = self.target
        if isinstance(exc, UnknownHostKey):
            return SshRefused(str(exc))
        if isinstance(exc, paramiko.BadHostKeyException):
            return SshRefused(
                f"BadHostKeyException: {exc}; the login node's host key changed since it was put in "
                f"{target.known_hosts}: if the change is expected, replace its line there"
            )
        if isinstance(exc, paramiko.AuthenticationException):
            return SshRefused(
                f"{exc} as user {target.user!r} with key_file {target.key_file}: check user and key_file "
                f"(the key's public half must be in ~{target.user}/.ssh/authorized_keys on {target.host})"
            )
        return None

    def _drop(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
            self._sftp = None
        if self._client is not None:
            self._client.close()
            self._client = None

    async def close(self) -> None:
        def shut() -> None:
            with self._lock:
                self._closed = True
                self._drop()

        await self.call(shut)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ---- commands ------------------------------------------------------------------------------

    async def run(self, command: str, timeout_s: float, stdout: IO[bytes] | None = None) -> CommandResult:
        """Run one shell command on the login node.  With `stdout`, the output is written there."""
        return await self.call(lambda: self._run(command, timeout_s, stdout))

    def _run(self, command: str, timeout_s: float, sink: IO[bytes] | None) -> CommandResult:
        channel = self._open_session(timeout_s)
        try:
            channel.settimeout(timeout_s)
            self.commands_run += 1
            channel.exec_command(command)
            channel.shutdown_write()
            out = bytearray()
            while chunk := channel.recv(1 << 16):
                if sink is not None:
                    sink.write(chunk)
                else:
                    out += chunk
            err = bytearray()
            while chunk := channel.recv_stderr(1 << 16):
                err += chunk
            return CommandResult(channel.recv_exit_status(), bytes(out), bytes(err))
        except TimeoutError as exc:
            raise SshUnavailable(f"{command.split()[0]} on {self.target.label} timed out after {timeout_s:g}s") from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise SshUnavailable(f"{command.split()[0]} on {self.target.label} failed: {exc}") from exc
        finally:
            channel.close()

    def _open_session(self, timeout: float) -> paramiko.Channel:
        try:
            return self.transport().open_session(timeout=timeout)
        except SshUnavailable:
            raise
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise SshUnavailable(f"cannot open a channel to {self.target.label}: {exc}") from exc

    async def open_process(self, command: str, timeout_s: float) -> paramiko.Channel:
        """A long-lived command whose stdin/stdout the caller drives (e.g. the outbox follower)."""

        def start() -> paramiko.Channel:
            channel = self._open_session(timeout_s)
            self.commands_run += 1
            channel.exec_command(command)
            return channel

        return await self.call(start)

    # ---- SFTP ----------------------------------------------------------------------------------

    async def sftp(self, work: Callable[[paramiko.SFTPClient], T]) -> T:
        """Run work with the connection's one SFTP session (opened on first use, again after a reconnect)."""

        def run() -> T:
            with self._sftp_lock:
                transport = self.transport()
                try:
                    if self._sftp is None or self._sftp_transport is not transport:
                        self._sftp = paramiko.SFTPClient.from_transport(transport)
                        self._sftp_transport = transport
                    assert self._sftp is not None
                    return work(self._sftp)
                except (EOFError, paramiko.SSHException) as exc:
                    self._sftp = None
                    raise SshUnavailable(f"SFTP to {self.target.label} failed: {exc}") from exc
                except OSError as exc:
                    if isinstance(exc, TimeoutError) or not transport.is_active():
                        self._sftp = None
                        raise SshUnavailable(f"SFTP to {self.target.label} failed: {exc}") from exc
                    raise  # a remote file error (no such file, permission denied) is the caller's to handle

        return await self.call(run)
