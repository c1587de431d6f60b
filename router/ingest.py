"""Ingestion: outbox lines → normalized events on the bus, and the durable transcript in the database.

One call of ``Ingest.handle`` reads the lines (router/ingest_records.py), updates each node's state
(router/ingest_nodes.py), builds the envelopes (router/ingest_envelopes.py) and keeps the cursors and
offsets they complete (router/ingest_batch.py); then it publishes, then it commits.

Exactly once, across router crashes — the order this module keeps:
1. publish: every slice of envelopes goes to the bus together with the cursor (last published seq) of
   each node whose records it completes, atomically (one bus call);
2. commit: the durable transcript of the same records, and each node's last committed seq and the byte
   offset after it, in one database transaction.
A crash before 1 loses nothing (the followers re-read from the committed offset); between 1 and 2 the
re-read records up to the bus's cursor only get their durable effects applied (``published_seq``), the
rest are published too; after 2 nothing is read again.  Nothing is lost, nothing reaches the bus twice.

Records that leave nothing durable — deltas, heartbeats — need no commit of their own: their events are
on the bus with the cursors, so only the offsets are left to store, and a crash before they are stored
only makes the followers re-read what the cursors then skip.  Their progress is kept unsaved and stored
with the next commit, or by itself ``save_after_s`` after the first unsaved read: a stream of deltas
costs one transaction a second, not one per poll (a poll every 5 ms at 1,000 events/s).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from router.ingest_batch import Commit, Publication, node_cursor
from router.ingest_envelopes import node_status_event, record_envelope, seq_gap_warning
from router.ingest_nodes import (
    LOCAL_CLUSTER,
    NodeKey,
    TrackedNode,
    lock_order,
    observe_event,
    observe_record,
    seq_gaps_to_report,
)
from router.ingest_records import Record, SeqGaps, new_records
from router.metrics import RouterMetrics
from router.pricing import Pricing
from router.providers.base import OutboxLines
from router.store.database import Database
from router.store.swarms import aware
from router.store.tables import NodeRow
from router.transcript import DURABLE_EVENTS, DurableEvent, Transcript
from router.translate import translate_record
from services.bus.base import EventBus
from services.protocol import EventName, NodeStatus

__all__ = [
    "LOCAL_CLUSTER",
    "Ingest",
    "NodeKey",
    "TrackedNode",
    "lock_order",
    "node_cursor",
    "node_status_event",
]

log = logging.getLogger(__name__)


async def _no_exit_hook(_session: AsyncSession, _swarm_id: str) -> None:
    return None


@dataclass(eq=False)
class Ingest:
    db: Database
    bus: EventBus
    transcript: Transcript
    pricing: Pricing = field(default_factory=lambda: Pricing({}))
    metrics: RouterMetrics = field(default_factory=RouterMetrics)  # a router passes its own (router/core.py)
    save_after_s: float = 1.0  # progress with nothing durable waits at most this long for its commit

    def __post_init__(self) -> None:
        # Called inside the ingest transaction for each swarm one of whose nodes wrote its exit record.
        # Set by router/core.py once the authority exists: the authority is built on this Ingest.
        self.on_exit_records: Callable[[AsyncSession, str], Awaitable[None]] = _no_exit_hook
        self.records_ingested = 0
        self._cursors_stale = False
        self.nodes: dict[NodeKey, TrackedNode] = {}
        self._lock = asyncio.Lock()
        # Reads published but not committed (their records needed nothing durable): node → read through.
        self._unsaved: dict[NodeKey, tuple[TrackedNode, int, int]] = {}
        self._unsaved_since: float | None = None  # monotonic time of the oldest unsaved read
        self._saver: asyncio.Task[None] | None = None

    async def track(
        self,
        swarm_id: str,
        job_id: str,
        rows: Sequence[NodeRow],
        model: str | None = None,
        cluster: str = LOCAL_CLUSTER,
    ) -> list[TrackedNode]:
        cursors = await self.bus.cursors()
        self._drop_unsaved(swarm_id)  # its nodes are tracked anew, from their rows
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
        self._drop_unsaved(swarm_id)  # a swarm no longer followed has no progress to keep
        return bool(keys)

    def _drop_unsaved(self, swarm_id: str) -> None:
        self._unsaved = {key: read for key, read in self._unsaved.items() if read[0].swarm_id != swarm_id}

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
        publication, commit = Publication(), Commit(read_through=dict(self._unsaved))
        for chunk in chunks:
            node = self.nodes.get((cluster, chunk.job_id, chunk.node_id))
            if node is None:
                log.warning("outbox lines for untracked node %s/%s/%s dropped", cluster, chunk.job_id, chunk.node_id)
                continue
            self._read_chunk(node, chunk, publication, commit)
        for part in publication.slices():  # 1. publish, with the cursors
            if part.envelopes or part.cursors:
                await self.bus.publish(part.envelopes, cursors=part.cursors)
            publication.published(part.cursors)
        self.metrics.ingest_lag.observe_since(time.time(), publication.stamps)
        if commit.urgent or self._save_due():  # 2. commit, with the offsets (the unsaved ones too)
            await self._commit(commit)
            self._unsaved, self._unsaved_since = {}, None
        elif commit.read_through:  # 2. later: only progress to store
            self._unsaved = {key: read for key, read in commit.read_through.items() if self.nodes.get(key) is read[0]}
            self._unsaved_since = self._unsaved_since or time.monotonic()
            if self._saver is None or self._saver.done():
                self._saver = asyncio.create_task(self._save_later(), name="ingest-save")

    def _save_due(self) -> bool:
        return self._unsaved_since is not None and time.monotonic() - self._unsaved_since >= self.save_after_s

    async def _save_later(self) -> None:
        """Save the unsaved progress ``save_after_s`` after its first read; a failed commit is logged and
        tried again as long later (the progress stays in memory meanwhile)."""
        while True:
            await asyncio.sleep(max(0.0, (self._unsaved_since or 0.0) + self.save_after_s - time.monotonic()))
            if await self.save():
                return

    async def save(self) -> bool:
        """Commit the unsaved progress now; True when none is left."""
        async with self._lock:
            if not self._unsaved:
                return True
            commit = Commit(read_through=dict(self._unsaved))
            try:
                await self._commit(commit)
            except Exception:
                log.exception("storing ingest progress (outbox offsets) failed; trying again")
                self._unsaved_since = time.monotonic()
                return False
            self._unsaved, self._unsaved_since = {}, None
            return True

    async def close(self) -> None:
        """Store what is unsaved now (the followers have stopped): a clean restart re-reads nothing."""
        if self._saver is not None:
            self._saver.cancel()
            await asyncio.gather(self._saver, return_exceptions=True)
        await self.save()

    def _read_chunk(self, node: TrackedNode, chunk: OutboxLines, publication: Publication, commit: Commit) -> None:
        last_seq, gaps = commit.last_seq(node), SeqGaps()
        for record in new_records(chunk.lines, last_seq, f"{node.job_id}/{node.node_id}", gaps):
            last_seq = record.seq
            self.records_ingested += 1
            self._read_record(node, record, publication, commit)
        commit.read(node, last_seq, chunk.end_offset)
        if gaps.count:
            self._report_seq_gaps(node, last_seq, gaps, publication)

    def _report_seq_gaps(self, node: TrackedNode, last_seq: int, gaps: SeqGaps, publication: Publication) -> None:
        """Lines whose seq skipped ahead were not believed: say so, at most once per SEQ_GAP_WARN_S."""
        now = time.time()
        ignored = seq_gaps_to_report(node, gaps.count, now)
        if ignored is None:
            return
        log.warning(
            "swarm %s node %d: %d outbox line(s) with an out-of-order seq ignored (latest seq %d, read up to %d)",
            node.swarm_id,
            node.node_id,
            ignored,
            gaps.highest,
            last_seq,
        )
        publication.add(seq_gap_warning(node, last_seq, ignored, gaps.highest), now)
        self.metrics.events_ingested.add(EventName.AGENT_WARNING)

    def _read_record(self, node: TrackedNode, record: Record, publication: Publication, commit: Commit) -> None:
        publish = record.seq > node.published_seq
        before = node.status
        if observe_record(node, record.kind, record.ts, record.payload):
            commit.exited_swarms.add(node.swarm_id)
        for event, fields in translate_record(record.raw):
            observe_event(node, event)
            if event is EventName.USAGE:
                fields |= self.pricing.estimate(node.model, fields.get("total"))
            if event in DURABLE_EVENTS:
                at = datetime.fromtimestamp(record.ts, UTC)
                commit.durable.append(
                    DurableEvent(node.swarm_id, node.node_id, record.injection_id, record.seq, event, fields, at)
                )
            if publish:
                publication.add(record_envelope(node, record, event, fields), record.ts)
                self.metrics.events_ingested.add(event)
        if node.status != before:
            commit.status_changed = True
        if publish:
            if node.status != before:
                publication.add(orjson.dumps(node_status_event(node)), record.ts)
                self.metrics.events_ingested.add(EventName.NODE_STATUS)
            publication.record_done(node, record.seq)

    async def _commit(self, commit: Commit) -> None:
        async with self.db.transaction() as session:
            for durable in commit.durable:
                await self.transcript.apply(session, durable)
            await session.execute(update(NodeRow), commit.node_rows())  # one executemany, in lock order
            for swarm_id in sorted(commit.exited_swarms):
                await self.on_exit_records(session, swarm_id)
        commit.committed()
