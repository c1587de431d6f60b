"""Finding and stopping node processes of this host by pid (never by name)."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def is_node_process(pid: int, job_id: str) -> bool:
    """True while pid is a live (not zombie) process whose command line names job_id."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and job_id.encode() in cmdline.split(b"\0")


def signal_process(pid: int, job_id: str, signum: signal.Signals) -> bool:
    """Send signum if pid is still that job's node; False when it is already gone."""
    if not is_node_process(pid, job_id):
        return False
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def reap(pid: int) -> None:
    """Collect the exit status of a node we started ourselves (no zombie is left); others are ignored."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
