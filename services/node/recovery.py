"""What a restarted node learns from the outbox it already wrote: the last `seq` and the injections it took.

The last seq follows the same chain rule as the router's ingest (router/ingest_records.py): reading the
whole outbox from its start, only a line whose seq is the next one continues the chain; a line that
skips ahead (another process of the same Unix user may append any line) is not believed, so a forged
seq of 10**18 cannot make a restarted node number its records past what the router reads.  A line
longer than RECORD_LIMIT counts by the seq at its head, as the followers read it (outbox_lines.py).
Memory stays bounded: the file is read in CHUNK pieces and an over-long line is not held.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from services.node.outbox_lines import HEAD_BYTES
from services.node.records import RECORD_LIMIT

CHUNK = 4 << 20
# Outbox lines are written by `outbox.encode_record`; an injection id is a JSON string.
_INJECTION_ID = re.compile(rb'"injection_id":\s*("(?:[^"\\]|\\.)*")')
_SEQ = re.compile(rb'"seq":\s*(\d+)')  # the first one on a line, as the followers find it in a line's head
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass
class OutboxState:
    last_seq: int = 0
    size: int = 0
    ends_with_newline: bool = True
    injection_ids: set[str] = field(default_factory=set)


def _refuse(constant: str) -> float:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


def _continues(line: bytes, last_seq: int) -> bool:
    """True when the line is a record whose seq is last_seq + 1, read as strictly as ingest reads it
    (orjson refuses NaN, an infinite number and a lone surrogate, and takes a string, float or boolean
    seq for none): a line the router does not read must not move the node's chain.  The cheap look at
    the first seq skips every other line without parsing it."""
    found = _SEQ.search(line)
    if found is None or int(found.group(1)) != last_seq + 1:
        return False
    try:
        record = json.loads(line, parse_constant=_refuse, parse_float=_finite)
        if _ESCAPED_SURROGATE.search(line):
            json.dumps(record, ensure_ascii=False).encode()  # a lone surrogate cannot be encoded
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        return False
    seq = record.get("seq") if isinstance(record, dict) else None
    return type(seq) is int and seq == last_seq + 1


def _lines(handle: BinaryIO, state: OutboxState) -> Iterator[tuple[bytes, bool]]:
    """Each complete line of the file (without its newline) and whether it is whole: a line longer than
    RECORD_LIMIT comes as its first HEAD_BYTES only.  Counts the file's size; a torn last line (no
    newline) does not come, and ends_with_newline says so."""
    pending, head, overlong = b"", b"", False
    while chunk := handle.read(CHUNK):
        state.size += len(chunk)
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if overlong:
                yield head, False
                overlong = False
            else:
                yield line, len(line) <= RECORD_LIMIT
        if not overlong and len(pending) > RECORD_LIMIT:
            head, overlong = pending[:HEAD_BYTES], True
        if overlong:
            pending = b""
    state.ends_with_newline = not pending and not overlong


def read_outbox_state(path: str) -> OutboxState:
    """Scan an existing outbox (missing = empty).  A torn last line (no newline) does not count."""
    state = OutboxState()
    encoded_ids: set[bytes] = set()
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, read in chunks
    except FileNotFoundError:
        return state
    with handle:
        for line, whole in _lines(handle, state):
            encoded_ids.update(_INJECTION_ID.findall(line))
            if whole:
                if _continues(line, state.last_seq):
                    state.last_seq += 1
            elif (found := _SEQ.search(line[:HEAD_BYTES])) and int(found.group(1)) == state.last_seq + 1:
                state.last_seq += 1
    for encoded in encoded_ids:
        value = json.loads(encoded)
        if isinstance(value, str):
            state.injection_ids.add(value)
    return state
