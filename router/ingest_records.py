"""Outbox lines → records: parse and check one line of a node's outbox, skip what was already read.

A node numbers its records 1, 2, 3, ... (services/node/outbox.py), so only the line whose seq is the
next one continues a node's chain.  Any process of the nodes' Unix user can append to an outbox: a line
that skips ahead (seq > last + 1) is not believed — it is not read, the node's cursor stays, and it is
counted (``SeqGaps``) so ingest can say so — else one forged line with seq 10**18 would make every later
real record look already read.  A forged line with exactly the next seq cannot be told from the node's
own (README, Security).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from services.protocol import utc_timestamp

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Record:
    """One outbox record as ingest reads it; ``raw`` is the whole parsed line (for translate)."""

    seq: int
    ts: float  # the node's own clock, epoch seconds (0 when the record has none)
    kind: Any
    injection_id: Any
    payload: dict[str, Any]
    raw: dict[str, Any]

    @property
    def timestamp(self) -> str | None:
        return utc_timestamp(self.ts) if self.ts else None


@dataclass(slots=True)
class SeqGaps:
    """The lines of a read whose seq skipped ahead of the node's chain: how many, and the highest seq."""

    count: int = 0
    highest: int = 0

    def add(self, seq: int) -> None:
        self.count += 1
        self.highest = max(self.highest, seq)


def parse_record(line: bytes) -> Record | None:
    """The record on one outbox line, or None when it is not one (not JSON, no integer seq: a string,
    float or boolean seq is refused, as the node's own recovery refuses it)."""
    try:
        raw = orjson.loads(line)
        seq = raw["seq"]
        if type(seq) is not int:
            return None
        return Record(
            seq, float(raw.get("ts") or 0.0), raw.get("kind"), raw.get("injection_id"), raw.get("payload") or {}, raw
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None


def new_records(lines: list[bytes], after_seq: int, where: str, gaps: SeqGaps) -> Iterator[Record]:
    """The records on these lines that continue the chain after after_seq, in order.  A line already
    read (seq <= the last one: a follower may re-send committed lines) is skipped; a line that skips
    ahead is skipped and counted in gaps; an unreadable line is logged (``where`` names the node) and
    skipped."""
    for line in lines:
        record = parse_record(line)
        if record is None:
            log.error("unreadable outbox line of %s skipped: %.200r", where, line)
            continue
        if record.seq <= after_seq:
            continue
        if record.seq != after_seq + 1:
            gaps.add(record.seq)
            continue
        after_seq = record.seq
        yield record
