"""Reading a followed outbox's new complete lines, whatever a line's length, in bounded memory.

Both followers (the router's local one and the login node's) read through `OutboxFile`.  A read takes
whole lines from the offset, about `budget` bytes of them; a first line longer than the budget is read
whole when it ends within RECORD_LIMIT.  A longer line is never held in memory: it is scanned to its
newline in SCAN_BYTES steps (across reads, so a line still being written is not scanned twice) and
replaced by one NODE_RECORD_TOO_BIG record with the skipped record's seq, so the node's ingestion goes
on and the loss is reported.  Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass

from services.node.records import KIND_RUNTIME, NODE_RECORD_TOO_BIG, RECORD_LIMIT

SCAN_BYTES = 1 << 20  # how much of an over-long line is looked at per step
HEAD_BYTES = 4096  # where the envelope keys of a record are looked for (they come before its payload)

_SEQ = re.compile(rb'"seq":\s*(\d+)')
_TS = re.compile(rb'"ts":\s*(-?[0-9.]+(?:[eE][-+]?\d+)?)')
_INJECTION_ID = re.compile(rb'"injection_id":\s*("(?:[^"\\]|\\.)*")')
_KIND = re.compile(rb'"kind":\s*"(\w+)"')


@dataclass(frozen=True)
class LinesRead:
    """Complete lines of [start, end) of the file, without their newlines; `more`: the read stopped
    short of the file's end for its budget (read again at once)."""

    start: int
    end: int
    lines: list[bytes]
    more: bool


def too_big_record(head: bytes, size: int) -> bytes:
    """The line that stands for a skipped record of `size` bytes beginning with `head`."""
    seq, ts, injection, kind = (pattern.search(head) for pattern in (_SEQ, _TS, _INJECTION_ID, _KIND))
    record = {
        "seq": int(seq.group(1)) if seq else None,
        "ts": float(ts.group(1)) if ts else time.time(),
        "injection_id": json.loads(injection.group(1)) if injection else None,
        "kind": KIND_RUNTIME,
        "payload": {
            "method": NODE_RECORD_TOO_BIG,
            "params": {"bytes": size, "limit": RECORD_LIMIT, "kind": kind.group(1).decode() if kind else None},
        },
    }
    return json.dumps(record).encode()


class OutboxFile:
    """One followed outbox: the offset up to which its lines were taken, and an open descriptor."""

    def __init__(self, path: str, offset: int) -> None:
        self.path = path
        self._offset = offset
        self._scanned = offset  # no newline between `offset` and here (an over-long line being scanned)
        self.fd: int | None = None

    @property
    def offset(self) -> int:
        return self._offset

    @offset.setter
    def offset(self, offset: int) -> None:
        self._offset = self._scanned = offset

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def read(self, budget: int) -> LinesRead | None:
        """The complete lines after the offset (about `budget` bytes), or None when there are none yet."""
        if self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return None  # the node has not written yet
        size = os.fstat(self.fd).st_size
        start = self._offset
        if size <= start:
            return None
        if self._scanned == start:  # not inside an over-long line: the usual case
            data = os.pread(self.fd, min(size - start, budget), start)
            end = data.rfind(b"\n")
            if end >= 0:
                return self._took(data[:end].split(b"\n"), start + end + 1, more=start + len(data) < size)
            self._scanned = start + len(data)
        newline = self._find_newline(size)
        if newline is None:
            return None  # the first line is not complete yet
        length = newline - start
        if length <= RECORD_LIMIT:
            line = os.pread(self.fd, length, start)
        else:
            line = too_big_record(os.pread(self.fd, HEAD_BYTES, start), length)
        return self._took([line], newline + 1, more=newline + 1 < size)

    def _find_newline(self, size: int) -> int | None:
        """The position of the newline ending the line at the offset, scanning on from where the last
        read stopped; None when the file ends first."""
        assert self.fd is not None
        while self._scanned < size:
            data = os.pread(self.fd, min(size - self._scanned, SCAN_BYTES), self._scanned)
            if not data:
                break
            found = data.find(b"\n")
            if found >= 0:
                return self._scanned + found
            self._scanned += len(data)
        return None

    def _took(self, lines: list[bytes], end: int, *, more: bool) -> LinesRead:
        start = self._offset
        self.offset = end
        return LinesRead(start, end, lines, more)
