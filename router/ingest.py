"""Ingestion: outbox lines → normalized events on the bus, and the durable transcript in the database.

Exactly once, across router crashes: for each node the bus keeps the last *published* seq (a cursor
stored atomically with the entries) and the database keeps the last *committed* seq and the byte offset
after it (stored with the durable transcript they produced).  A batch is published first, then
committed.  After a crash the followers restart from the committed offset; records up to the bus's
cursor only get their durable effects applied, the rest are published too.  Nothing is lost, nothing
reaches the bus twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from router.metrics import RouterMetrics
from router.pricing import Pricing
from router.store.database import Database
from router.store.swarms import aware
from router.store.tables import NodeRow
from router.transcript import DURABLE_EVENTS, Transcript
from router.translate import activity_after, translate_record
from services.bus.base import EventBus
from services.node.records import KIND_EXIT, KIND_HELLO, KIND_RUNTIME
from services.protocol import EventName, NodeStatus, make_envelope, utc_timestamp

log = logging.getLogger(__name__)


# Outbox lines come from the followers of one cluster; a job id is unique only within its cluster.
LOCAL_CLUSTER = "local"  # the default providers file's only entry (this host)
NodeKey = tuple[str, str, int]  # (cluster, job id, node id)


def node_cursor(swarm_id: str, node_id: int) -> str:
    """A node's bus cursor is named by its swarm: job ids repeat across clusters and over time."""
    return f"node:{swarm_id}:{node_id}"


@dataclass(slots=True)
class OutboxLines:
    """Complete lines read from one node's outbox: they span [start_offset, end_offset) of the file."""

    job_id: str
    node_id: int
    lines: list[bytes]
    end_offset: int
    start_offset: int


@dataclass(slots=True)
class TrackedNode:
    swarm_id: str
    cluster: str
    job_id: str
    node_id: int
    committed_seq: int
    committed_offset: int
    published_seq: int
    activity: NodeStatus  # starting, idle, busy or exited: what the node's own records say
    stale: bool = False
    last_seen: float | None = None
    pid: int | None = None
    exit_code: int | None = None
    exit_reason: str | None = None  # the node program's own words in its exit record
    model: str | None = None  # what the swarm's runtime asks its endpoint for (prices usage)

    @property
    def key(self) -> NodeKey:
        return (self.cluster, self.job_id, self.node_id)

    @property
    def status(self) -> NodeStatus:
        if self.stale and self.activity is not NodeStatus.EXITED:
            return NodeStatus.STALE
        return self.activity


# A publish never carries more envelopes than this (plus one record's worth): bounded Redis scripts.
PUBLISH_SLICE = 2000


@dataclass(slots=True)
class _Batch:
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    cursors: dict[str, str] = field(default_factory=dict)
    # Full slices waiting to be published, each with the cursors of every record it completes.
    slices: list[tuple[list[dict[str, Any]], dict[str, str]]] = field(default_factory=list)
    cursor_nodes: dict[str, TrackedNode] = field(default_factory=dict)
    durable: list[tuple[TrackedNode, str | None, int, EventName, dict[str, Any], float]] = field(default_factory=list)
    touched: dict[NodeKey, tuple[TrackedNode, int, int]] = field(default_factory=dict)
    exited_swarms: set[str] = field(default_factory=set)
    stamps: list[float] = field(default_factory=list)  # the node's timestamp of each event published


def lock_order(node: TrackedNode) -> tuple[str, int]:
    """Every transaction that updates several node rows updates them in this order, so two of them
    (ingest, the staleness sweep) can never deadlock on each other's rows."""
    return (node.swarm_id, node.node_id)


def node_status_event(node: TrackedNode) -> dict[str, Any]:
    return make_envelope(
        EventName.NODE_STATUS,
        {
            "swarm_id": node.swarm_id,
            "job_id": node.job_id,
            "node_id": node.node_id,
            "status": str(node.status),
            "last_heartbeat_at": utc_timestamp(node.last_seen) if node.last_seen else None,
        },
    )


async def _no_exit_hook(_session: AsyncSession, _swarm_id: str) -> None:
    return None


class Ingest:
    def __init__(self, db: Database, bus: EventBus, transcript: Transcript, pricing: Pricing | None = None) -> None:
        self.db = db
        self.bus = bus
        self.transcript = transcript
        self.pricing = pricing or Pricing({})
        # Called inside the ingest transaction for each swarm one of whose nodes wrote its exit record.
        self.on_exit_records: Callable[[AsyncSession, str], Awaitable[None]] = _no_exit_hook
        self.records_ingested = 0
        self.metrics = RouterMetrics()  # the router's own, once wired (router/core.py)
        self._cursors_stale = False
        self.nodes: dict[NodeKey, TrackedNode] = {}
        self._lock = asyncio.Lock()

    async def track(
        self,
        swarm_id: str,
        job_id: str,
        rows: Sequence[NodeRow],
        model: str | None = None,
        cluster: str = LOCAL_CLUSTER,
    ) -> list[TrackedNode]:
        cursors = await self.bus.cursors()
        tracked = []
        for row in rows:
            node = TrackedNode(
                swarm_id=swarm_id,
                cluster=cluster,
                job_id=job_id,
                node_id=row.node_id,
                committed_seq=row.last_seq,
                committed_offset=row.outbox_offset,
                published_seq=max(row.last_seq, int(cursors.get(node_cursor(swarm_id, row.node_id), "0"))),
                activity=NodeStatus(row.status) if row.status != NodeStatus.STALE else NodeStatus.IDLE,
                stale=row.status == NodeStatus.STALE,
                last_seen=aware(row.last_heartbeat_at).timestamp() if row.last_heartbeat_at else None,
                pid=row.pid,
                exit_code=row.exit_code,
                model=model,
            )
            self.nodes[node.key] = node
            tracked.append(node)
        return tracked

    def forget(self, swarm_id: str) -> bool:
        """Stop tracking a swarm's nodes; False when it had none tracked."""
        keys = [key for key, node in self.nodes.items() if node.swarm_id == swarm_id]
        for key in keys:
            del self.nodes[key]
        return bool(keys)

    def nodes_of(self, swarm_id: str) -> list[TrackedNode]:
        return sorted((n for n in self.nodes.values() if n.swarm_id == swarm_id), key=lambda n: n.node_id)

    def sink(self, cluster: str) -> Callable[[Sequence[OutboxLines]], Awaitable[None]]:
        """What one cluster's followers hand their lines to."""

        async def handle(chunks: Sequence[OutboxLines]) -> None:
            await self.handle(chunks, cluster)

        return handle

    async def handle(self, chunks: Sequence[OutboxLines], cluster: str = LOCAL_CLUSTER) -> None:
        """Ingest lines from one cluster's followers.  On error nothing is committed; the caller re-reads
        from each chunk's start, and what the bus already has is not published again."""
        async with self._lock:
            if self._cursors_stale:  # a publish failed: the bus may hold more than we think
                await self._reload_cursors()
            try:
                await self._handle(chunks, cluster)
            except BaseException:
                self._cursors_stale = True
                raise

    async def _reload_cursors(self) -> None:
        cursors = await self.bus.cursors()
        for node in self.nodes.values():
            stored = int(cursors.get(node_cursor(node.swarm_id, node.node_id), "0"))
            node.published_seq = max(node.committed_seq, stored)
        self._cursors_stale = False

    async def _handle(self, chunks: Sequence[OutboxLines], cluster: str) -> None:
        batch = _Batch()
        for chunk in chunks:
            node = self.nodes.get((cluster, chunk.job_id, chunk.node_id))
            if node is None:
                log.warning("outbox lines for untracked node %s/%s/%s dropped", cluster, chunk.job_id, chunk.node_id)
                continue
            self._read_chunk(node, chunk, batch)
        batch.slices.append((batch.envelopes, batch.cursors))
        for envelopes, cursors in batch.slices:
            if envelopes or cursors:
                await self.bus.publish(envelopes, cursors=cursors)
            for key, value in cursors.items():
                batch.cursor_nodes[key].published_seq = int(value)
        self.metrics.ingest_lag.observe_since(time.time(), batch.stamps)
        if batch.touched:
            await self._commit(batch)

    def _read_chunk(self, node: TrackedNode, chunk: OutboxLines, batch: _Batch) -> None:
        last_seq = node.committed_seq
        if node.key in batch.touched:
            last_seq = batch.touched[node.key][1]
        for line in chunk.lines:
            try:
                record = orjson.loads(line)
                seq = int(record["seq"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                log.error("unreadable outbox line of %s/%s skipped: %.200r", node.job_id, node.node_id, line)
                continue
            if seq <= last_seq:
                continue  # already committed: a follower re-sent it
            last_seq = seq
            self.records_ingested += 1
            self._read_record(node, record, seq, batch)
        batch.touched[node.key] = (node, last_seq, chunk.end_offset)

    def _read_record(self, node: TrackedNode, record: dict[str, Any], seq: int, batch: _Batch) -> None:
        publish = seq > node.published_seq
        ts = float(record.get("ts") or 0.0)
        injection_id = record.get("injection_id")
        kind = record.get("kind")
        before = node.status
        node.last_seen = ts
        node.stale = False
        payload = record.get("payload") or {}
        if kind == KIND_HELLO:
            node.activity, node.pid = NodeStatus.IDLE, payload.get("pid")
        elif kind == KIND_EXIT:
            node.activity, node.exit_code = NodeStatus.EXITED, int(payload.get("code", 1))
            node.exit_reason = payload.get("reason")
            batch.exited_swarms.add(node.swarm_id)
        timestamp = utc_timestamp(ts) if ts else None
        for event, fields in translate_record(record):
            activity = activity_after(event)
            if activity is not None and node.activity is not NodeStatus.EXITED:
                node.activity = activity
            if event is EventName.USAGE:
                fields |= self.pricing.estimate(node.model, fields.get("total"))
            if event in DURABLE_EVENTS:
                batch.durable.append((node, injection_id, seq, event, fields, ts))
            if publish:
                data = {
                    "swarm_id": node.swarm_id,
                    "job_id": node.job_id,
                    "node_id": node.node_id,
                    "injection_id": injection_id,
                    "seq": seq,
                    **fields,
                }
                if kind == KIND_RUNTIME:
                    data["raw"] = payload
                batch.envelopes.append(make_envelope(event, data, timestamp))
                self.metrics.events_ingested.add(event)
                batch.stamps.append(ts)
        if publish:
            if node.status != before:
                batch.envelopes.append(node_status_event(node))
                self.metrics.events_ingested.add(EventName.NODE_STATUS)
                batch.stamps.append(ts)
            key = node_cursor(node.swarm_id, node.node_id)
            batch.cursors[key], batch.cursor_nodes[key] = str(seq), node
            if len(batch.envelopes) >= PUBLISH_SLICE:  # cut at a record boundary
                batch.slices.append((batch.envelopes, dict(batch.cursors)))
                batch.envelopes = []

    async def _commit(self, batch: _Batch) -> None:
        async with self.db.transaction() as session:
            for node, injection_id, seq, event, fields, ts in batch.durable:
                at = datetime.fromtimestamp(ts, UTC)
                await self.transcript.apply(session, node.swarm_id, node.node_id, injection_id, seq, event, fields, at)
            for node, last_seq, end_offset in sorted(batch.touched.values(), key=lambda t: lock_order(t[0])):
                await session.execute(
                    update(NodeRow)
                    .where(NodeRow.swarm_id == node.swarm_id, NodeRow.node_id == node.node_id)
                    .values(
                        last_seq=last_seq,
                        outbox_offset=end_offset,
                        status=str(node.status),
                        last_heartbeat_at=datetime.fromtimestamp(node.last_seen, UTC) if node.last_seen else None,
                        pid=node.pid,
                        exit_code=node.exit_code,
                    )
                )
            for swarm_id in sorted(batch.exited_swarms):
                await self.on_exit_records(session, swarm_id)
        for node, last_seq, end_offset in batch.touched.values():
            node.committed_seq, node.committed_offset = last_seq, end_offset
