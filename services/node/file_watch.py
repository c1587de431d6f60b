"""Write notifications for files on this machine: Linux inotify through ctypes (the node program is
standard library only), or nothing where the kernel or libc has none.

A write from another host to a shared filesystem (NFS, say) raises no event: a watcher still polls,
only less often.
"""

from __future__ import annotations

import os

IN_MODIFY = 0x2  # <sys/inotify.h>
DRAIN_BYTES = 4096


class FileWatch:
    """One inotify descriptor (non-blocking, readable when a watched file was written), or none."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self._libc = None
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            fd = int(libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC))
        except (ImportError, OSError, AttributeError):
            return
        if fd >= 0:
            self.fd, self._libc = fd, libc

    def add(self, path: str) -> int | None:
        """Watch `path` for writes; the watch descriptor, or None when it cannot be watched."""
        if self.fd is None or self._libc is None:
            return None
        wd = int(self._libc.inotify_add_watch(self.fd, os.fsencode(path), IN_MODIFY))
        return wd if wd >= 0 else None

    def remove(self, wd: int) -> None:
        if self.fd is not None and self._libc is not None:
            self._libc.inotify_rm_watch(self.fd, wd)

    def drain(self) -> None:
        """Consume the pending events (what was written is read from the files themselves)."""
        if self.fd is None:
            return
        try:
            while os.read(self.fd, DRAIN_BYTES):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
