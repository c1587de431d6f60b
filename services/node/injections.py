"""The queue of injections waiting for a turn.

FIFO, except that a steer goes to the head of the queue: steers wait in their own lane, which is
served first (FIFO among steers), so a steer runs as the very next turn.
"""

from __future__ import annotations

import threading
from collections import deque

from services.node.messages import Injection


class InjectionQueue:
    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._steers: deque[Injection] = deque()
        self._queued: deque[Injection] = deque()
        self._closed = False

    def put(self, injection: Injection) -> None:
        with self._ready:
            (self._steers if injection.steer else self._queued).append(injection)
            self._ready.notify()

    def get(self) -> Injection | None:
        """The next injection, waiting for one; None once the queue is closed."""
        with self._ready:
            while not self._closed:
                if self._steers:
                    return self._steers.popleft()
                if self._queued:
                    return self._queued.popleft()
                self._ready.wait()
            return None

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._ready:
            return len(self._steers) + len(self._queued)
