"""Waiting between inbox polls: fast while the node works, spaced out while it is idle, and cut short by
a write to the inbox where the kernel reports one.

A busy node (a turn running or queued) and one that just read lines poll every ``fast_s``; an idle
node's polls double up to ``idle_s`` apart.  On Linux an inotify watch on the inbox
(services/node/file_watch.py) wakes the wait as soon as the router appends a line on this
machine, so an idle node still starts a turn at once.  A write from another host
(a shared filesystem such as NFS) raises no inotify event: there the spaced-out polls find it, within
``idle_s``.
"""

from __future__ import annotations

import select
import time

from services.node.file_watch import FileWatch


class InboxWait:
    def __init__(self, path: str, fast_s: float, idle_s: float) -> None:
        self.fast_s = fast_s
        self.idle_s = max(fast_s, idle_s)
        self.interval_s = fast_s
        self._watch = FileWatch()
        self.watching = self._watch.add(path) is not None  # local writes to the inbox wake the wait

    def reset(self) -> None:
        """The last poll read lines: poll fast again."""
        self.interval_s = self.fast_s

    def wait(self, busy: bool) -> None:
        """Sleep until the next poll (`busy`: a turn runs or waits); each idle wait is twice the last."""
        timeout = self.fast_s if busy else self.interval_s
        self.interval_s = min(timeout * 2, self.idle_s)
        fd = self._watch.fd if self.watching else None
        if fd is None:
            time.sleep(timeout)
        elif select.select([fd], [], [], timeout)[0]:
            self._watch.drain()
            self.interval_s = self.fast_s

    def close(self) -> None:
        self._watch.close()
