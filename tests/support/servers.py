"""Real Redis and Postgres for the test suite and the benchmarks, on any machine.

``ensure_redis()`` / ``ensure_postgres()`` use the server on the usual loopback port when one answers
(trust auth for Postgres) and otherwise start a private one on a free port in a temporary directory,
stopped by pid when the process exits.  Overrides, for CI or to exercise the "start our own" path:

- ``CODESWARM_TEST_REDIS_URL`` / ``CODESWARM_TEST_PG_DSN``: use exactly this server.
- ``CODESWARM_TEST_REDIS_PORT`` (default 6379) / ``CODESWARM_TEST_PG_PORT`` (default 5432): the port
  probed for an existing server; point it at an unused port to force a private server.

``python -m tests.support.servers`` (from the repository root) starts a private Redis and a private
Postgres on unused ports, uses them and stops them: a quick check of a fresh machine.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis

HOST = "127.0.0.1"
REDIS_URL_ENV = "CODESWARM_TEST_REDIS_URL"
REDIS_PORT_ENV = "CODESWARM_TEST_REDIS_PORT"
PG_DSN_ENV = "CODESWARM_TEST_PG_DSN"
PG_PORT_ENV = "CODESWARM_TEST_PG_PORT"
PG_USERS = ("postgres", "root")
START_ATTEMPTS = 3

T = TypeVar("T")


# -- waiting and running -------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    """Poll ``condition`` until it holds; TimeoutError naming ``what`` once ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:g}s")
        time.sleep(interval)


async def wait_until_async(
    condition: Callable[[], bool | Awaitable[bool]], within: float, what: str, interval: float = 0.01
) -> None:
    """The async twin of ``wait_until`` (deadline ``within`` seconds); ``condition`` may be async."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        outcome = condition()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        if loop.time() >= deadline:
            raise TimeoutError(f"{what}: not within {within:g}s")
        await asyncio.sleep(interval)


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


# -- servers we started --------------------------------------------------------------------------


@dataclass
class ManagedServer:
    """A server this process started: stopped (by pid) at most once, its directory removed."""

    kind: str
    url: str
    pid: int
    workdir: Path
    _stop: Callable[[], None] = field(repr=False)
    stopped: bool = False

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        try:
            self._stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


_lock = threading.RLock()
_managed: dict[str, ManagedServer] = {}  # url → server
_ensured: dict[tuple[str, int], str] = {}  # (kind, probed port) → url


def managed(url: str) -> ManagedServer | None:
    """The server at ``url`` if this process started it."""
    with _lock:
        return _managed.get(url)


def stop_server(url: str) -> None:
    """Stop the server at ``url`` if this process started it (a no-op for servers found running)."""
    with _lock:
        server = _managed.pop(url, None)
        for key in [key for key, known in _ensured.items() if known == url]:
            del _ensured[key]
    if server is not None:
        server.stop()


@atexit.register
def stop_all() -> None:
    with _lock:
        servers = list(_managed.values())
        _managed.clear()
        _ensured.clear()
    for server in servers:
        server.stop()


def _register(server: ManagedServer) -> ManagedServer:
    with _lock:
        _managed[server.url] = server
    return server


def _wait_pid_gone(pid: int, timeout: float) -> bool:
    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    try:
        wait_until(gone, timeout, f"process {pid} to exit")
    except TimeoutError:
        return False
    return True


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- Redis ---------------------------------------------------------------------------------------


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as conn:
            conn.settimeout(1.0)
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis(port: int | None = None) -> str:
    """URL of a Redis to test against: ``$CODESWARM_TEST_REDIS_URL``, else the one on ``port``
    (default ``$CODESWARM_TEST_REDIS_PORT`` or 6379) when it answers PING, else a private one."""
    if override := os.environ.get(REDIS_URL_ENV):
        return override
    probe = port if port is not None else int(os.environ.get(REDIS_PORT_ENV, "6379"))
    with _lock:
        url = _ensured.get(("redis", probe))
        if url is None:
            url = f"redis://{HOST}:{probe}/0" if redis_answers(probe) else start_redis().url
            _ensured["redis", probe] = url
        return url


def start_redis() -> ManagedServer:
    """Start a private, non-persistent redis-server on a free loopback port."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(f"redis-server is not installed; install it or set {REDIS_URL_ENV}")
    workdir = Path(tempfile.mkdtemp(prefix="cs-redis-"))
    for _ in range(START_ATTEMPTS):  # another process may grab the free port before redis binds it
        server = _start_redis_once(binary, workdir, free_port())
        if server is not None:
            return _register(server)
    tail = _log_tail(workdir / "redis.log")
    shutil.rmtree(workdir, ignore_errors=True)
    raise RuntimeError(f"could not start redis-server:\n{tail}")


def _start_redis_once(binary: str, workdir: Path, port: int) -> ManagedServer | None:
    process = subprocess.Popen(
        [
            *(binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"),
            *("--dir", str(workdir), "--logfile", str(workdir / "redis.log"), "--daemonize", "no"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    stop = _popen_stopper(process)
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: process.poll() is not None or redis_answers(port), 15, "redis-server start")
    if process.poll() is None and redis_answers(port):
        return ManagedServer("redis", f"redis://{HOST}:{port}/0", process.pid, workdir, stop)
    stop()
    return None


def _popen_stopper(process: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    return stop


def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key under ``prefix`` (glob characters in it are taken literally)."""
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()


def unique_prefix() -> str:
    return f"cstest:{secrets.token_hex(6)}:"


# -- Postgres ------------------------------------------------------------------------------------


async def _connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, timeout=5)


async def _first_user(port: int) -> str | None:
    for user in PG_USERS:
        try:
            conn = await _connect(f"postgresql://{user}@{HOST}:{port}/postgres")
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            continue
        await conn.close()
        return user
    return None


def postgres_user(port: int) -> str | None:
    """The first of ``postgres``, ``root`` that the server on ``port`` lets in without a password."""
    return run_sync(_first_user(port)) if _port_open(port) else None


def ensure_postgres(port: int | None = None) -> str:
    """Base DSN (no database) of a Postgres to test against: ``$CODESWARM_TEST_PG_DSN``, else the one
    on ``port`` (default ``$CODESWARM_TEST_PG_PORT`` or 5432) when it lets us in with trust auth,
    else a private cluster.  E.g. ``postgresql://postgres@127.0.0.1:5432``."""
    if override := os.environ.get(PG_DSN_ENV):
        return override
    probe = port if port is not None else int(os.environ.get(PG_PORT_ENV, "5432"))
    with _lock:
        dsn = _ensured.get(("postgres", probe))
        if dsn is None:
            user = postgres_user(probe)
            dsn = f"postgresql://{user}@{HOST}:{probe}" if user else start_postgres().url
            _ensured["postgres", probe] = dsn
        return dsn


def _postgres_bindir() -> Path:
    def version(bindir: str) -> float:
        with contextlib.suppress(ValueError):
            return float(Path(bindir).parent.name)
        return 0.0

    candidates = sorted(glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    for bindir in candidates:
        if (Path(bindir) / "initdb").exists():
            return Path(bindir)
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError(f"no Postgres server binaries (initdb) found; install them or set {PG_DSN_ENV}")
    return Path(initdb).resolve().parent


def start_postgres() -> ManagedServer:
    """``initdb`` a private cluster (trust auth, no fsync) in a temporary directory and start it with
    ``pg_ctl`` on a free loopback port.  As root the binaries run as the ``postgres`` OS user."""
    bindir = _postgres_bindir()
    workdir = Path(tempfile.mkdtemp(prefix="cs-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data = workdir / "data"
    try:
        _run_checked(
            [
                *as_owner,
                *(str(bindir / "initdb"), "-D", str(data), "-U", "postgres"),
                *("--auth=trust", "-E", "UTF8", "--no-sync"),
            ]
        )
        for _ in range(START_ATTEMPTS):  # another process may grab the free port before postgres binds it
            server = _start_postgres_once(as_owner, bindir, workdir, free_port())
            if server is not None:
                return _register(server)
        raise RuntimeError(f"could not start postgres:\n{_log_tail(workdir / 'postgres.log')}")
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _start_postgres_once(as_owner: list[str], bindir: Path, workdir: Path, port: int) -> ManagedServer | None:
    data = workdir / "data"
    options = f"-p {port} -k {workdir} -c listen_addresses={HOST}"
    options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    started = subprocess.run(
        [
            *as_owner,
            *(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(workdir / "postgres.log")),
            *("-o", options, "-w", "-t", "60", "start"),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    pid = _postmaster_pid(data)
    stop = _postmaster_stopper(pid) if pid is not None else None
    if started.returncode == 0 and stop is not None:
        try:
            wait_until(lambda: postgres_user(port) == "postgres", 30, "postgres to accept connections")
        except TimeoutError:
            stop()
            raise
        return ManagedServer("postgres", f"postgresql://postgres@{HOST}:{port}", pid or 0, workdir, stop)
    if stop is not None:
        stop()
    return None


def _run_checked(command: list[str]) -> None:
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise RuntimeError(f"{command[0]} {command[1:]} failed ({done.returncode}):\n{output}")


def _postmaster_pid(data: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    return None


def _postmaster_stopper(pid: int) -> Callable[[], None]:
    def stop() -> None:
        # SIGINT = "fast" shutdown; SIGQUIT = "immediate" when fast does not finish in time.
        for sig, timeout in ((signal.SIGINT, 30.0), (signal.SIGQUIT, 10.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            if _wait_pid_gone(pid, timeout):
                return

    return stop


def _with_database(dsn: str, database: str, scheme: str | None = None) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(scheme=scheme or parts.scheme, path=f"/{database}"))


async def _execute(base_dsn: str, statement: str) -> None:
    conn = await _connect(_with_database(base_dsn, "postgres"))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_database(base_dsn: str) -> tuple[str, Callable[[], None]]:
    """Create a fresh, uniquely named database; return its SQLAlchemy URL (``postgresql+asyncpg://``)
    and a function that drops it (idempotent; it also ends any sessions still connected)."""
    name = f"cs_test_{secrets.token_hex(6)}"
    run_sync(_execute(base_dsn, f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        run_sync(_execute(base_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return _with_database(base_dsn, name, scheme="postgresql+asyncpg"), drop


# -- self-check ----------------------------------------------------------------------------------


def _self_check() -> None:
    """Start private servers on unused ports (the fresh-machine path), use them, stop them."""
    os.environ.pop(REDIS_URL_ENV, None)
    os.environ.pop(PG_DSN_ENV, None)
    for kind, ensure, check in (
        ("redis", ensure_redis, lambda url: redis.Redis.from_url(url).ping()),
        ("postgres", ensure_postgres, _check_postgres),
    ):
        began = time.monotonic()
        url = ensure(free_port())
        server = managed(url)
        assert server is not None, f"{kind}: expected a private server, got {url}"
        check(url)
        ready = time.monotonic() - began
        stop_server(url)
        assert _wait_pid_gone(server.pid, 10) and not server.workdir.exists()
        print(f"{kind}: private server {url} (pid {server.pid}) ready in {ready:.2f}s, used, stopped")


def _check_postgres(base_dsn: str) -> None:
    url, drop = create_database(base_dsn)
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def query() -> int:
        conn = await _connect(plain)
        try:
            value: int = await conn.fetchval("select 41 + 1")
            return value
        finally:
            await conn.close()

    assert run_sync(query()) == 42
    drop()


if __name__ == "__main__":
    _self_check()
