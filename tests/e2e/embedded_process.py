"""`codeswarm up` as a child process: its own CODESWARM_HOME, every port chosen by the system (0), and
the URLs read from its start-up announcement."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.router_process import kill_local_nodes, suite_auth_env

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
URL_LINE = re.compile(r"^\s+(router|mirror|web)\s+(http://\S+)")
READY_LINE = "Ctrl-C stops every service."


@dataclass
class EmbeddedProcess:
    process: subprocess.Popen[str]
    home: Path  # its CODESWARM_HOME
    urls: dict[str, str] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)
    login_url: str = ""  # what `codeswarm up` told its owner to open

    @property
    def web_url(self) -> str:
        return self.urls["web"]

    @property
    def mirror_url(self) -> str:
        return self.urls["mirror"]

    def log(self) -> str:
        return "".join(self.output)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        kill_local_nodes(self.home)  # node programs outlive the router by design


def _pump(stream: object, lines: queue.Queue[str | None], output: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        output.append(line)
        lines.put(line)
    lines.put(None)


def start_embedded(
    home: Path, extra_env: dict[str, str] | None = None, *options: str, own_session: bool = False
) -> EmbeddedProcess:
    """Start `codeswarm up` and return once it announced every service (or raise with its output).
    ``own_session``: in a session of its own, as when started from its own terminal."""
    env = {
        **os.environ,
        "CODESWARM_HOME": str(home),
        "CODESWARM_ROUTER_PORT": "0",
        "CODESWARM_MIRROR_PORT": "0",
        "CODESWARM_WEB_PORT": "0",
        "CODESWARM_API_TOKEN": "",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    for name in ("CODESWARM_ROUTER_URL", "CODESWARM_MIRROR_URL", "CODESWARM_WEB_ORIGIN", "CODESWARM_DATABASE_URL"):
        env.pop(name, None)
    auth = suite_auth_env(extra_env or {})
    if auth:
        env.update(auth)
    elif "CODESWARM_INSECURE_NO_AUTH" not in (extra_env or {}):
        env.pop("CODESWARM_INSECURE_NO_AUTH", None)  # a token given: the suite's no-auth default would conflict
    command = [sys.executable, "-m", "codeswarm.cli", "up", *options]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=own_session,
    )
    running = EmbeddedProcess(process, home)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines, running.output), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        remaining = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(remaining, 0.01)) if remaining > 0 else None
        except queue.Empty:
            line = None
        if line is None:
            running.stop()
            raise RuntimeError(f"`codeswarm up` did not announce its services in time:\n{running.log()}")
        if match := URL_LINE.match(line):
            name, url = match.groups()
            running.urls[name] = url.split("/#", 1)[0]  # the web line is the login URL when auth is on
            if name == "web":
                running.login_url = url
        if line.strip() == READY_LINE:
            break
    missing = {"router", "mirror", "web"} - running.urls.keys()
    if missing:
        running.stop()
        raise RuntimeError(f"`codeswarm up` did not start {sorted(missing)}:\n{running.log()}")
    return running
