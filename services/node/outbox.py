"""The outbox writer: one whole line per `write()` on an O_APPEND descriptor, serialized by a lock.

A concurrent reader never sees interleaved records.  No fsync per line: the router follows the file
through the page cache, and the outbox must sustain tens of thousands of records per second.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from services.node.output_cap import OutputCap
from services.node.records import KIND_RUNTIME
from services.node.recovery import OutboxState, read_outbox_state


def encode_record(
    seq: int, job_id: str, node_id: int, injection_id: str | None, kind: str, payload: dict[str, Any]
) -> bytes:
    record = {
        "seq": seq,
        "ts": time.time(),
        "job_id": job_id,
        "node_id": node_id,
        "injection_id": injection_id,
        "kind": kind,
        "payload": payload,
    }
    try:
        return (json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n").encode()
    except ValueError:  # NaN, an infinity or a lone surrogate (UnicodeEncodeError) from a runtime message
        return _readable_line(record)


def _readable_line(record: dict[str, Any]) -> bytes:
    """The record as a line the router reads (it refuses NaN, infinities and lone surrogates, and the
    chain of seqs stops at a line it cannot read): those become null and "?"."""
    cleaned = json.loads(json.dumps(record), parse_constant=lambda _constant: None)
    text = json.dumps(cleaned, ensure_ascii=False, allow_nan=False) + "\n"
    return text.encode("utf-8", "replace")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Outbox:
    """Appends records with a per-node `seq` that continues from what the file already holds."""

    def __init__(self, path: str, job_id: str, node_id: int) -> None:
        self.path = path
        self.job_id = job_id
        self.node_id = node_id
        self.previous: OutboxState = read_outbox_state(path)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if not self.previous.ends_with_newline:
            _write_all(self._fd, b"\n")  # end a line torn by a crash, so the next record starts clean
        self._seq = self.previous.last_seq
        self._lock = threading.Lock()
        self._output_cap = OutputCap()

    def gone(self) -> bool:
        """True when the file this outbox appends to was deleted or replaced (nobody reads it any more)."""
        with self._lock:
            if self._fd is None:
                return False
            try:
                return os.stat(self.path).st_ino != os.fstat(self._fd).st_ino
            except FileNotFoundError:
                return True

    @property
    def resumed(self) -> bool:
        """True when this node wrote to the outbox before (a restarted node)."""
        return self.previous.size > 0

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def write(self, kind: str, payload: dict[str, Any], injection_id: str | None = None) -> int | None:
        """Append one record (a runtime message's command output capped: output_cap.py); the last seq
        written, or None once the outbox is closed (the exit record was written)."""
        with self._lock:
            if self._fd is None:
                return None
            for written in self._output_cap.apply(payload) if kind == KIND_RUNTIME else [payload]:
                line = encode_record(self._seq + 1, self.job_id, self.node_id, injection_id, kind, written)
                _write_all(self._fd, line)
                self._seq += 1
            return self._seq

    def close(self, kind: str | None = None, payload: dict[str, Any] | None = None) -> int | None:
        """Write a last record (if given) and refuse every later one."""
        with self._lock:
            if self._fd is None:
                return None
            seq = None
            try:
                if kind is not None:
                    line = encode_record(self._seq + 1, self.job_id, self.node_id, None, kind, payload or {})
                    _write_all(self._fd, line)
                    self._seq += 1
                    seq = self._seq
            finally:
                os.close(self._fd)
                self._fd = None
            return seq
