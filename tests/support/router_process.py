"""A real router process for integration tests (real Postgres, real Redis), and a bus reader."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from router.providers.local.processes import is_node_process
from services.bus.base import START_ID, EventBus
from services.bus.redis_bus import RedisEventBus
from services.token_file import TOKEN_FILE_NAME
from tests.support.servers import free_port, wait_until, wait_until_async

ROOT = Path(__file__).resolve().parents[2]


def suite_auth_env(extra_env: dict[str, str]) -> dict[str, str]:
    """The suite's default for a service process: no auth (on loopback), unless the test gives a token
    or says what it wants with CODESWARM_INSECURE_NO_AUTH itself (the default-on tests)."""
    if extra_env.get("CODESWARM_API_TOKEN") or "CODESWARM_INSECURE_NO_AUTH" in extra_env:
        return {}
    return {"CODESWARM_INSECURE_NO_AUTH": "1"}


def kill_local_nodes(home: Path) -> None:
    """Kill (by pid) every node program the local provider under CODESWARM_HOME ``home`` started, with
    every process of its session (the commands and agents it runs): they are meant to outlive a router,
    so a test must not leave them behind."""
    for pid_file in (home / "local" / "runs").glob("*/control/node_*.pid"):
        job_id = pid_file.parent.parent.name
        pid = int(pid_file.read_text())
        if is_node_process(pid, job_id):
            os.kill(pid, signal.SIGKILL)
            kill_session(pid)


def kill_session(session_id: int, passes: int = 100) -> None:
    """SIGKILL every process of this session (a node program leads its own), pass after pass until one
    finds none (a member may fork while it is being killed)."""
    for _ in range(passes):
        members = [pid for pid in _pids() if _session_of(pid) == session_id]
        if not members:
            return
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _session_of(pid: int) -> int | None:
    """The session of a live process (None for a zombie, already dead, or one that is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[3])
    except (OSError, IndexError, ValueError):
        return None


@dataclass
class RouterProcess:
    """`codeswarm-router` as a child process; kill() is a real SIGKILL."""

    home: Path
    database_url: str
    redis_url: str
    redis_prefix: str
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "CODESWARM_HOME": str(self.home),
            "CODESWARM_DATABASE_URL": self.database_url,
            "CODESWARM_BUS": "redis",
            "CODESWARM_REDIS_URL": self.redis_url,
            "CODESWARM_REDIS_PREFIX": self.redis_prefix,
            "CODESWARM_ROUTER_PORT": str(self.port),
            "CODESWARM_HEARTBEAT_INTERVAL_S": "0.5",
            "CODESWARM_PROBE_INTERVAL_S": "1",
            "CODESWARM_TERMINATE_GRACE_S": "3",
            **suite_auth_env(self.extra_env),
            **self.extra_env,
        }

    def start(self) -> RouterProcess:
        log = (self.home / "router.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "router.main"], cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        wait_until(self._healthy, 30, f"router on {self.url} healthy (log: {self.home / 'router.log'})")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"router exited with {self.process.returncode}: {self.log_tail()}")
        try:
            token = self.token()
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return httpx.get(f"{self.url}/readyz", headers=headers, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def token(self) -> str | None:
        """The token this router demands: the one it was given, else its token file's (None: no auth)."""
        given = self.extra_env.get("CODESWARM_API_TOKEN")
        if given:
            return given
        path = self.home / TOKEN_FILE_NAME
        return path.read_text().strip() if path.exists() else None

    def log_tail(self) -> str:
        return (self.home / "router.log").read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def stop_nodes(self) -> None:
        kill_local_nodes(self.home)

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=15)


class BusReader:
    """Reads the whole event stream as a client would, and waits for conditions on what it has seen."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.bus: EventBus = RedisEventBus(redis_url, prefix, maxlen=1_000_000)
        self.last_id = START_ID
        self.entries: list[tuple[str, dict[str, Any]]] = []

    async def poll(self) -> None:
        while True:
            batch = await self.bus.read_after(self.last_id, count=5000)
            if not batch:
                return
            self.entries += [(entry.id, entry.envelope()) for entry in batch]
            self.last_id = batch[-1].id

    def events(self, name: str | None = None, **match: Any) -> list[dict[str, Any]]:
        found = []
        for _, envelope in self.entries:
            data = envelope["data"]
            if (name is None or envelope["event"] == name) and all(data.get(k) == v for k, v in match.items()):
                found.append(data)
        return found

    async def wait_for(self, condition: Callable[[], bool], within: float, what: str) -> None:
        async def check() -> bool:
            await self.poll()
            return condition()

        await wait_until_async(check, within, what, interval=0.02)

    async def close(self) -> None:
        await self.bus.close()


async def wait_swarm(
    client: httpx.AsyncClient, swarm_id: str, condition: Callable[[dict[str, Any]], bool], within: float
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def check() -> bool:
        response = await client.get(f"/v1/swarms/{swarm_id}")
        seen.clear()
        seen.update(response.json() if response.status_code == 200 else {"status_code": response.status_code})
        return condition(seen)

    try:
        await wait_until_async(check, within, f"swarm {swarm_id} condition")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; last seen: {seen}") from None
    return dict(seen)


def all_idle(swarm: dict[str, Any]) -> bool:
    return (
        swarm.get("status") == "running"
        and all(n["status"] == "idle" for n in swarm.get("nodes", []))
        and bool(swarm.get("nodes"))
    )
