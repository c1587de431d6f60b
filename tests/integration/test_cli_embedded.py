"""`codeswarm` against the real services of the embedded mode: router (SQLite, in-process bus, local
provider, mock nodes) and mirror, served by codeswarm.embedded in a background thread; `up` itself and
`watch` run as subprocesses, the way a user runs them."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from codeswarm.cli import main
from tests.support.embedded_stack import START_TIMEOUT_S, Stack, embedded_stack
from tests.support.servers import wait_until

CODESWARM = [sys.executable, "-m", "codeswarm.cli"]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with embedded_stack(tmp_path / "home") as running:
        yield running


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def launched(stack: Stack, capsys: pytest.CaptureFixture[str], nodes: int = 2) -> str:
    code, out, err = run_cli(capsys, *stack.cli("launch", "--nodes", str(nodes), "--runtime", "mock", "--quiet"))
    assert code == 0, err
    swarm_id = out.strip().splitlines()[-1]
    assert re.fullmatch(r"sw-[0-9a-f]+", swarm_id), out
    return swarm_id


# -- client commands against the router ---------------------------------------------------------------


def test_launch_list_inject_terminate(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, *stack.cli("providers"))
    assert code == 0
    assert out.startswith("local ") and "mock" in out

    code, out, err = run_cli(capsys, *stack.cli("launch", "--nodes", "3", "--alias", "cli-test"))
    assert code == 0, err
    swarm_id = out.split()[0]
    assert out == f"{swarm_id} running: 3 nodes ready (job local-{swarm_id}, local/mock)\n"
    assert err.splitlines()[-1] == f"{swarm_id}: running, 3/3 nodes ready"
    swarm = stack.get(f"/v1/swarms/{swarm_id}")
    assert swarm["status"] == "running" and {n["status"] for n in swarm["nodes"]} <= {"idle", "busy"}

    code, out, _ = run_cli(capsys, *stack.cli("list"))
    assert code == 0
    header, row = out.splitlines()[:2]
    assert header.split()[:4] == ["SWARM", "ALIAS", "STATUS", "READY"]
    assert row.split()[:4] == [swarm_id, "cli-test", "running", "3/3"]

    code, out, _ = run_cli(capsys, *stack.cli("inject", swarm_id, "0,2", "hello"))
    assert code == 0
    assert re.fullmatch(rf"injected into {swarm_id} \(queued\): n0 in-\w+, n2 in-\w+\n", out)

    def answered(node: int) -> bool:
        turns = stack.get(f"/v1/swarms/{swarm_id}/nodes/{node}/turns")["turns"]
        return bool(turns) and turns[-1]["status"] == "completed" and turns[-1]["assistant"] == "echo: hello"

    wait_until(lambda: answered(0) and answered(2), 30, "the mock answers of nodes 0 and 2", interval=0.05)
    assert stack.get(f"/v1/swarms/{swarm_id}/nodes/1/turns")["turns"] == []

    code, out, _ = run_cli(capsys, *stack.cli("terminate", swarm_id))
    assert code == 0
    assert re.fullmatch(rf"{swarm_id} terminating \(request rq-\w+\)\n", out)
    wait_until(lambda: stack.get(f"/v1/swarms/{swarm_id}")["status"] == "terminated", 30, "terminated", interval=0.05)


def test_errors_are_one_line_with_the_routers_detail(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    swarm_id = launched(stack, capsys, nodes=2)

    code, out, err = run_cli(capsys, *stack.cli("inject", swarm_id, "5", "hello"))
    assert (code, out) == (1, "")
    assert err.startswith("codeswarm: error: nodes: node 5 is out of range")
    assert err.endswith(f"(HTTP 422 from POST /v1/swarms/{swarm_id}/inject)\n") and err.count("\n") == 1

    code, _, err = run_cli(capsys, *stack.cli("inject", swarm_id, "all", "   "))
    assert code == 1 and "content" in err and "HTTP 422" in err

    code, _, err = run_cli(capsys, *stack.cli("terminate", "sw-000000000000"))
    assert code == 1 and "HTTP 404" in err and "sw-000000000000" in err

    code, _, err = run_cli(capsys, *stack.cli("launch", "--nodes", "1", "--runtime", "no-such-runtime"))
    assert code == 1 and "runtime" in err and "mock" in err, err

    code, _, err = run_cli(capsys, *stack.cli("launch", "--nodes", "1", "--provider", "nowhere"))
    assert code == 1 and "unknown provider 'nowhere'" in err and "local" in err, err


def test_an_unreachable_router_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        code, _, err = run_cli(capsys, "--router", f"http://127.0.0.1:{port}", "--token", "", "list")
    assert code == 1
    assert err.startswith(f"codeswarm: error: cannot reach the router at http://127.0.0.1:{port}")
    assert "codeswarm up" in err and err.count("\n") == 1


def test_the_token_is_sent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with embedded_stack(tmp_path / "home", token="s3cret-token-long-enough-for-the-32-character-rule") as stack:
        code, _, err = run_cli(capsys, "--router", stack.router, "--token", "", "list")
        assert code == 1 and "authentication required" in err and "HTTP 401" in err
        code, _, err = run_cli(capsys, "--router", stack.router, "--token", "wrong", "list")
        assert code == 1 and "invalid API token" in err
        code, out, _ = run_cli(capsys, *stack.cli("list"))
        assert code == 0 and out.startswith("no swarms")


# -- watch: the readable event stream from the mirror ----------------------------------------------------


class LineReader:
    """Collects a subprocess's output lines in a thread so the test can wait for them with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if re.search(pattern, line):
                return line
        while (left := deadline - time.monotonic()) > 0:
            try:
                received = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if received is None:
                raise AssertionError(f"output ended before {pattern!r}; got:\n" + "\n".join(self.lines))
            line = received
            self.lines.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} within {timeout:g}s; got:\n" + "\n".join(self.lines))


@contextmanager
def process(argv: list[str], env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], LineReader]]:
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    assert proc.stdout is not None
    try:
        yield proc, LineReader(proc.stdout)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def test_watch_shows_every_nodes_turn(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert stack.mirror, "the mirror is part of the embedded mode"
    swarm_id = launched(stack, capsys, nodes=2)
    with process([*CODESWARM, *stack.cli("watch", swarm_id, "--from", "0-0")]) as (proc, out):
        out.wait_for(rf"^\[{swarm_id}\] launched: job local-{swarm_id}, 2 nodes \(local/mock\)$", 30)
        prompt = "look around\n$ echo hi from $PWD\n$ exit 3"
        code, _, err = run_cli(capsys, *stack.cli("inject", swarm_id, "all", prompt))
        assert code == 0, err
        for node in (0, 1):
            tag = re.escape(f"[{swarm_id} n{node}]")
            out.wait_for(rf"^{tag} ── turn started \(in-\w+\)$", 30)
            out.wait_for(rf"^{tag} reasoning: \S", 30)
            out.wait_for(rf"^{tag} \$ .*echo hi from", 30)
            out.wait_for(rf"^{tag}   hi from /\S+node_0{node}$", 30)
            out.wait_for(rf"^{tag} exit 0", 30)
            out.wait_for(rf"^{tag} exit 3", 30)
            out.wait_for(rf"^{tag} assistant: echo: look around$", 30)
            out.wait_for(rf"^{tag}   \$ exit 3$", 30)
            out.wait_for(rf"^{tag} usage: [\d,]+ tokens \(input [\d,]+, .*output [\d,]+", 30)
            out.wait_for(rf"^{tag} ── turn complete$", 30)
        assert proc.poll() is None, "watch keeps following"
        # every line is one node's or the swarm's: streamed text never mixes nodes on a line
        for line in out.lines:
            assert re.match(rf"^\[{swarm_id}( n[01])?\] ", line), line
        answers = [line for line in out.lines if "assistant: echo: look around" in line]
        assert len(answers) == 2, "each answer is shown once"


# -- `codeswarm up` as a user runs it ----------------------------------------------------------------------


def up_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        "CODESWARM_HOME": str(home),
        "CODESWARM_ROUTER_PORT": "0",
        "CODESWARM_MIRROR_PORT": "0",
        "CODESWARM_WEB_PORT": "0",
        "CODESWARM_DATABASE_URL": "",
        "CODESWARM_API_TOKEN": "",
        "CODESWARM_ROUTER_URL": "",
        "CODESWARM_MIRROR_URL": "",
    }
    return {**env, **extra}


def test_up_serves_until_interrupted_then_stops_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with process([*CODESWARM, "up", "--no-web"], up_env(tmp_path / "home")) as (proc, out):
        router = out.wait_for(r"^  router  http://127\.0\.0\.1:\d+$", START_TIMEOUT_S).split()[-1]
        mirror = out.wait_for(r"^  mirror  http://127\.0\.0\.1:\d+$", START_TIMEOUT_S).split()[-1]
        out.wait_for(r"^  web     skipped: disabled$", 5)
        out.wait_for(r"^  state   sqlite\+aiosqlite:///.*codeswarm\.db$", 5)
        out.wait_for(r"^Ctrl-C stops every service\.$", 5)
        code, text, _ = run_cli(capsys, "--router", router, "--token", "", "providers")
        assert code == 0 and text.startswith("local ")
        assert httpx.get(f"{mirror}/healthz", timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(START_TIMEOUT_S) == 0
        out.wait_for(r"^codeswarm up: stopped$", 5)
        assert (tmp_path / "home" / "codeswarm.db").is_file()


def test_up_reports_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = up_env(tmp_path / "home", CODESWARM_ROUTER_PORT=str(port))
        result = subprocess.run(
            [*CODESWARM, "up"], env={**os.environ, **env}, capture_output=True, text=True, timeout=START_TIMEOUT_S
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port} for the router" in result.stderr
    assert "CODESWARM_ROUTER_PORT" in result.stderr


def test_up_refuses_an_open_address_without_a_token(tmp_path: Path) -> None:
    env = up_env(tmp_path / "home", CODESWARM_ROUTER_HOST="0.0.0.0")
    result = subprocess.run(
        [*CODESWARM, "up"], env={**os.environ, **env}, capture_output=True, text=True, timeout=START_TIMEOUT_S
    )
    assert result.returncode == 1
    assert "refusing to serve the router on 0.0.0.0 without a token" in result.stderr
