"""The two ways Codeswarm runs, as benchmark subjects: split (router and mirror processes on Postgres and
Redis) and embedded (``codeswarm up``: one process, SQLite, the in-process bus).

Each gives the URLs a client uses, the pids whose CPU time and memory are measured, and the directory
under which the local provider keeps mailboxes and node pid files.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.embedded_process import EmbeddedProcess, start_embedded
from tests.support.mirror_process import MirrorProcess
from tests.support.router_process import RouterProcess
from tests.support.servers import create_database, delete_prefix, unique_prefix

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def node_pids(runs_base: Path, job_id: str) -> list[int]:
    return [int(path.read_text()) for path in sorted((runs_base / "runs" / job_id / "control").glob("node_*.pid"))]


def signal_nodes(runs_base: Path, job_id: str, signum: signal.Signals) -> None:
    for pid in node_pids(runs_base, job_id):
        os.kill(pid, signum)


# The settings both modes share: nothing coalesced unless asked, heartbeats as in production.
COMMON_ENV = {"CODESWARM_DELTA_COALESCE_MS": "0", "CODESWARM_PROBE_INTERVAL_S": "30"}


@dataclass
class Split:
    """Router and mirror as separate processes on Postgres + Redis; a second mirror coalesces deltas."""

    home: Path
    pg: str
    redis_url: str
    prefix: str = field(default_factory=unique_prefix)
    router: RouterProcess | None = None
    mirror: MirrorProcess | None = None
    coalescing: MirrorProcess | None = None
    _drop_database: object = None

    name = "split"

    def start(self, coalesce_ms: float) -> Split:
        url, self._drop_database = create_database(self.pg)
        env = {**COMMON_ENV, "CODESWARM_HEARTBEAT_INTERVAL_S": "2"}
        self.router = RouterProcess(self.home / "router", url, self.redis_url, self.prefix, env)
        self.router.home.mkdir()
        self.router.start()
        self.mirror = MirrorProcess(self.home / "mirror", self.redis_url, self.prefix, self.router.url, COMMON_ENV)
        self.mirror.start()
        coalesce_env = {**COMMON_ENV, "CODESWARM_DELTA_COALESCE_MS": str(coalesce_ms)}
        self.coalescing = MirrorProcess(
            self.home / "mirror-coalescing", self.redis_url, self.prefix, self.router.url, coalesce_env
        )
        self.coalescing.start()
        return self

    @property
    def router_url(self) -> str:
        assert self.router is not None
        return self.router.url

    @property
    def mirror_port(self) -> int:
        assert self.mirror is not None
        return self.mirror.port

    @property
    def coalescing_port(self) -> int | None:
        assert self.coalescing is not None
        return self.coalescing.port

    @property
    def runs_base(self) -> Path:
        return self.home / "router" / "local"

    def service_pids(self) -> dict[str, int]:
        assert self.router is not None and self.router.process is not None and self.mirror is not None
        return {"router": self.router.process.pid, "mirror": self.mirror.pid}

    def stop(self) -> None:
        for mirror in (self.coalescing, self.mirror):
            if mirror is not None:
                mirror.stop()
        if self.router is not None:
            self.router.stop()
            self.router.stop_nodes()
        delete_prefix(self.redis_url, self.prefix)
        if callable(self._drop_database):
            self._drop_database()


@dataclass
class Embedded:
    """``codeswarm up``: router, mirror and web in one process on SQLite and the in-process bus."""

    home: Path
    process: EmbeddedProcess | None = None

    name = "embedded"
    coalescing_port = None

    def start(self, coalesce_ms: float) -> Embedded:
        del coalesce_ms  # one mirror per process here: the coalescing case runs in the split mode
        self.process = start_embedded(self.home, {**COMMON_ENV, "CODESWARM_HEARTBEAT_INTERVAL_S": "2"})
        return self

    @property
    def router_url(self) -> str:
        assert self.process is not None
        return self.process.urls["router"]

    @property
    def mirror_port(self) -> int:
        assert self.process is not None
        return int(self.process.mirror_url.rsplit(":", 1)[1])

    @property
    def runs_base(self) -> Path:
        return self.home / "local"

    def service_pids(self) -> dict[str, int]:
        assert self.process is not None
        return {"embedded": self.process.process.pid}

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
