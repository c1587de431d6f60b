"""A node program subprocess started from the zipapp, driven through its mailbox (as the router does);
the fixtures ``pyz`` and ``new_node`` (registered suite-wide by tests/conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from services.node.records import inbox_path, outbox_path, workspace_path
from services.node.zipapp import build_zipapp

T = TypeVar("T")
Record = dict[str, Any]

JOB = "job-1"
BLOCK_UNTIL_RELEASED = "$ while [ ! -e release ]; do sleep 0.01; done"


def wait_for(predicate: Callable[[], T], timeout: float = 15.0, what: str = "a condition") -> T:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


def node_environment(home: Path) -> dict[str, str]:
    """What the router gives a node: an explicit, small environment (an empty HOME keeps `bash -l` quiet)."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}


class Node:
    """One node program subprocess and its mailbox."""

    def __init__(self, pyz: Path, base: Path, node_id: int | None = 0, job_id: str = JOB) -> None:
        self.pyz = pyz
        self.base = base
        self.job_id = job_id
        self.node_id = 0 if node_id is None else node_id
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def outbox(self) -> Path:
        return Path(outbox_path(str(self.base), self.job_id, self.node_id))

    @property
    def inbox(self) -> Path:
        return Path(inbox_path(str(self.base), self.job_id, self.node_id))

    @property
    def workspace(self) -> Path:
        return Path(workspace_path(str(self.base), self.job_id, self.node_id))

    def start(
        self,
        *args: str,
        runtime_params: dict[str, Any] | None = None,
        heartbeat_s: float = 30.0,
        with_node_id: bool = True,
        extra_env: dict[str, str] | None = None,
        python_flags: tuple[str, ...] = ("-I",),
    ) -> Node:
        argv = [sys.executable, *python_flags, str(self.pyz), "--base", str(self.base), "--job-id", self.job_id]
        if with_node_id:
            argv += ["--node-id", str(self.node_id)]
        params = {"delay_ms": 0} if runtime_params is None else runtime_params
        argv += ["--runtime-params", json.dumps(params), "--heartbeat-s", str(heartbeat_s), *args]
        env = {**node_environment(self.base / "home"), **(extra_env or {})}
        self.process = subprocess.Popen(
            argv, env=env, cwd=self.base, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        return self

    # -- outbox ---------------------------------------------------------------------------------------

    def records(self) -> list[Record]:
        try:
            data = self.outbox.read_bytes()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def runtime_messages(self, injection_id: str | None = None) -> list[dict[str, Any]]:
        return [
            r["payload"]
            for r in self.records()
            if r["kind"] == "runtime" and (injection_id is None or r["injection_id"] == injection_id)
        ]

    def find(self, predicate: Callable[[Record], bool]) -> Record | None:
        return next((r for r in self.records() if predicate(r)), None)

    def wait_record(self, predicate: Callable[[Record], bool], what: str, timeout: float = 15.0) -> Record:
        found = wait_for(lambda: self.find(predicate), timeout, what)
        assert found is not None
        return found

    def wait_turn_completed(self, injection_id: str, timeout: float = 15.0) -> Record:
        return self.wait_record(
            lambda r: r["injection_id"] == injection_id and r["payload"].get("method") == "turn/completed",
            f"turn/completed of {injection_id}",
            timeout,
        )

    def turn_order(self) -> list[str]:
        return [
            r["injection_id"]
            for r in self.records()
            if r["kind"] == "runtime" and r["payload"].get("method") == "turn/started"
        ]

    # -- inbox ----------------------------------------------------------------------------------------

    def append_inbox(self, data: bytes) -> None:
        self.inbox.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.inbox, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def inject(self, content: str, mode: str = "queue", injection_id: str | None = None) -> str:
        injection_id = injection_id or f"inj-{uuid.uuid4().hex[:8]}"
        line = {"type": "inject", "injection_id": injection_id, "content": content, "mode": mode, "ts": time.time()}
        self.append_inbox(json.dumps(line).encode() + b"\n")
        return injection_id

    def mark(self) -> None:
        """Append a line the node must refuse, and wait for its inbox_error: every earlier line was read."""
        marker = f"marker-{uuid.uuid4().hex}"
        self.append_inbox(marker.encode() + b"\n")
        self.wait_record(lambda r: r["kind"] == "inbox_error" and r["payload"]["line"] == marker, "the marker")

    # -- process --------------------------------------------------------------------------------------

    def wait_exit(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def stderr(self) -> str:
        assert self.process is not None and self.process.stderr is not None
        return self.process.stderr.read().decode()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)
        if self.process is not None:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture(scope="session")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_zipapp(tmp_path_factory.mktemp("bin"))


@pytest.fixture
def new_node(pyz: Path, tmp_path: Path) -> Iterator[Callable[..., Node]]:
    nodes: list[Node] = []

    def make(node_id: int | None = 0, base: Path | None = None) -> Node:
        node = Node(pyz, base or tmp_path / "base", node_id)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.kill()


def hello(node: Node) -> Record:
    return node.wait_record(lambda r: r["kind"] == "hello", "hello")
