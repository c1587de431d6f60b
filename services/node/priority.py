"""A node program's CPU priority: on a host it shares with the services that follow it (the local
provider), a node and everything its agent runs yield the processor to them.

`nice` lowers the priority of this process, and so of every child it starts.  Where the kernel groups
processes by session for scheduling (Linux's autogroup, /proc/self/autogroup), a process's nice value
counts only against the others of its session; a node started in a session of its own therefore also
sets its session's nice value, so that the session as a whole weighs no more than one process of that
nice.  The kernel takes such a change from an ordinary user at most ten times a second for the whole
host, so a refused one is retried, in the background, until it is taken."""

from __future__ import annotations

import errno
import os
import threading
import time

AUTOGROUP = "/proc/self/autogroup"
RETRY_S = 0.2
RETRY_FOR_S = 120.0  # 128 nodes starting at once take about 13 s of the host's ten changes a second


def lower_priority(nice: int) -> None:
    if nice <= 0:
        return
    os.nice(nice)
    if os.getsid(0) == os.getpid() and os.path.exists(AUTOGROUP):  # never another session's (a login shell's)
        threading.Thread(target=_set_session_nice, args=(nice,), name="session-nice", daemon=True).start()


def _set_session_nice(nice: int) -> None:
    deadline = time.monotonic() + RETRY_FOR_S
    while True:
        try:
            with open(AUTOGROUP, "w") as autogroup:
                autogroup.write(str(nice))
            return
        except OSError as exc:  # EAGAIN: another change was taken in the last 100 ms
            if exc.errno != errno.EAGAIN or time.monotonic() > deadline:
                return
            time.sleep(RETRY_S)
