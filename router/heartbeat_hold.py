"""Heartbeats alone are held a while and handed over together, instead of one ingest each.

An idle swarm's nodes write nothing but heartbeats, each node at its own moment, so a follower that
handed over every read would ingest once per heartbeat: a bus write and a database transaction each
(16 nodes beating every 2 s: eight a second, most of an idle router's work).  A read that found only
heartbeats is held instead, and what is held is handed over together once the first of it has waited
``HOLD_SHARE`` of the shortest heartbeat period of the nodes held — or at once, with whatever else was
read, when any other record comes (an injection's delivery waits for no heartbeat).

A node's period is learnt from the timestamps of its heartbeats (the smallest gap between two in a
row; a node beats at most that often).  Until it is known, its heartbeats are not held.  So a node is
heard from within 1.5 periods, well inside the stale limit (CODESWARM_STALE_AFTER_MISSED periods, 3 by
default), and ``last_heartbeat_at`` is the heartbeat's own time, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from router.providers.base import OutboxLines
from services.node.records import KIND_HEARTBEAT

HOLD_SHARE = 0.5  # held heartbeats wait at most this share of their nodes' shortest heartbeat period
HEARTBEAT_BYTES = 512  # a heartbeat record is far shorter: longer lines are not parsed to find out
KIND_TEXT = b'"' + KIND_HEARTBEAT.encode() + b'"'

NodeKey = tuple[str, int]  # (job_id, node_id)


def heartbeat_ts(line: bytes) -> float | None:
    """The timestamp of a heartbeat record; None for any other line (or one that is not a record)."""
    if len(line) > HEARTBEAT_BYTES or KIND_TEXT not in line:
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict) or record.get("kind") != KIND_HEARTBEAT:
        return None
    ts = record.get("ts")
    return float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else None


class HeartbeatHold:
    def __init__(self) -> None:
        self._held: dict[NodeKey, OutboxLines] = {}
        self._due: float | None = None  # when what is held is handed over (monotonic seconds)
        self._last_beat: dict[NodeKey, float] = {}
        self._period: dict[NodeKey, float] = {}

    @property
    def due(self) -> float | None:
        return self._due

    def take(self, chunks: Sequence[OutboxLines], now: float) -> list[OutboxLines]:
        """What to hand over now (monotonic seconds) of these chunks, just read, and of what is held:
        nothing while only heartbeats of nodes with a known period came and the hold is not due."""
        if chunks:
            hold_s = self._hold_s(chunks)
            for chunk in chunks:
                self._add(chunk)
            if hold_s is None:
                return self._release()
            self._due = now + hold_s if self._due is None else min(self._due, now + hold_s)
        if self._due is not None and now >= self._due:
            return self._release()
        return []

    def forget(self, job_id: str) -> None:
        """The job is not followed any more: its held lines and its nodes' periods go."""
        for table in (self._held, self._last_beat, self._period):
            for key in [key for key in table if key[0] == job_id]:
                del table[key]
        if not self._held:
            self._due = None

    def drop(self, job_id: str, node_id: int) -> None:
        """The node's file is read again from another offset: what is held of it would be read twice."""
        self._held.pop((job_id, node_id), None)
        if not self._held:
            self._due = None

    def _hold_s(self, chunks: Sequence[OutboxLines]) -> float | None:
        """How long these chunks may be held: None when one has a record other than a heartbeat, or a
        heartbeat of a node whose period is not known yet (each heartbeat teaches its node's period)."""
        hold_s: float | None = float("inf")  # chunks hold at least one line each
        for chunk in chunks:
            key = (chunk.job_id, chunk.node_id)
            for line in chunk.lines:
                ts = heartbeat_ts(line)
                if ts is None:
                    hold_s = None
                    continue
                period = self._learn(key, ts)
                if period is None:
                    hold_s = None
                elif hold_s is not None:
                    hold_s = min(hold_s, HOLD_SHARE * period)
        return hold_s

    def _learn(self, key: NodeKey, ts: float) -> float | None:
        last = self._last_beat.get(key)
        self._last_beat[key] = ts
        if last is not None and ts > last:
            self._period[key] = min(self._period.get(key, ts - last), ts - last)
        return self._period.get(key)

    def _add(self, chunk: OutboxLines) -> None:
        key = (chunk.job_id, chunk.node_id)
        held = self._held.get(key)
        if held is None:
            self._held[key] = chunk
        else:  # read on from where the held lines end: one chunk, from the first start to the last end
            lines = [*held.lines, *chunk.lines]
            self._held[key] = OutboxLines(chunk.job_id, chunk.node_id, lines, chunk.end_offset, held.start_offset)

    def _release(self) -> list[OutboxLines]:
        released = list(self._held.values())
        self._held.clear()
        self._due = None
        return released
