"""Outbox lines → records: parse and check one line of a node's outbox, skip what was already read."""

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


def parse_record(line: bytes) -> Record | None:
    """The record on one outbox line, or None when it is not one (not JSON, no integer seq)."""
    try:
        raw = orjson.loads(line)
        seq = int(raw["seq"])
        return Record(
            seq, float(raw.get("ts") or 0.0), raw.get("kind"), raw.get("injection_id"), raw.get("payload") or {}, raw
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None


def new_records(lines: list[bytes], after_seq: int, where: str) -> Iterator[Record]:
    """The records on these lines past after_seq, in order (a follower may re-send committed lines);
    an unreadable line is logged (``where`` names the node) and skipped."""
    for line in lines:
        record = parse_record(line)
        if record is None:
            log.error("unreadable outbox line of %s skipped: %.200r", where, line)
            continue
        if record.seq <= after_seq:
            continue
        after_seq = record.seq
        yield record
