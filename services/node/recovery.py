"""What a restarted node learns from the outbox it already wrote: the last `seq` and the injections it took."""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field

CHUNK = 4 << 20
# Outbox lines are written by `outbox.encode_record`; an injection id is a JSON string.
_INJECTION_ID = re.compile(rb'"injection_id":\s*("(?:[^"\\]|\\.)*")')
_TAIL_LINES = 8  # complete lines kept to find the last one that parses


@dataclass
class OutboxState:
    last_seq: int = 0
    size: int = 0
    ends_with_newline: bool = True
    injection_ids: set[str] = field(default_factory=set)


def _seq_of(line: bytes) -> int | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    seq = record.get("seq") if isinstance(record, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def read_outbox_state(path: str) -> OutboxState:
    """Scan an existing outbox (missing = empty).  A torn last line (no newline) does not count."""
    state = OutboxState()
    encoded_ids: set[bytes] = set()
    tail: deque[bytes] = deque(maxlen=_TAIL_LINES)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, read in chunks
    except FileNotFoundError:
        return state
    with handle:
        pending = b""
        while chunk := handle.read(CHUNK):
            state.size += len(chunk)
            pending += chunk
            end = pending.rfind(b"\n")
            if end < 0:
                continue
            complete, pending = pending[: end + 1], pending[end + 1 :]
            encoded_ids.update(_INJECTION_ID.findall(complete))
            tail.extend(complete.splitlines()[-_TAIL_LINES:])
    state.ends_with_newline = not pending
    for line in reversed(tail):
        seq = _seq_of(line)
        if seq is not None:
            state.last_seq = seq
            break
    for encoded in encoded_ids:
        value = json.loads(encoded)
        if isinstance(value, str):
            state.injection_ids.add(value)
    return state
