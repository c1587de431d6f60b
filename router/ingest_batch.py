"""What one ingest call publishes and then commits: the bookkeeping of envelopes, cursors and offsets.

``Publication`` holds the envelopes in bounded slices, each with the bus cursor (last published seq)
of every node whose records it completes: a slice is cut only at a record boundary, so a cursor on the
bus never names a record whose events are not all there.  ``Commit`` holds the durable effects and, per
node, the last seq read and the outbox offset after it, which the database stores with them (all nodes'
rows in one statement), and whether anything in it must be stored at once (router/ingest.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from router.ingest_nodes import NodeKey, TrackedNode, lock_order
from router.transcript import DurableEvent

# A publish never carries more envelopes than this (plus one record's worth): bounded Redis scripts.
PUBLISH_SLICE = 2000

Envelope = bytes  # encoded JSON (router/ingest_envelopes.py)


def node_cursor(swarm_id: str, node_id: int) -> str:
    """A node's bus cursor is named by its swarm: job ids repeat across clusters and over time."""
    return f"node:{swarm_id}:{node_id}"


@dataclass(slots=True)
class Slice:
    envelopes: list[Envelope]
    cursors: dict[str, str]


@dataclass(slots=True)
class Publication:
    full: list[Slice] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    cursors: dict[str, str] = field(default_factory=dict)  # of every record so far, in all slices
    nodes: dict[str, TrackedNode] = field(default_factory=dict)  # cursor name → its node
    stamps: list[float] = field(default_factory=list)  # the node's timestamp of each envelope

    def add(self, envelope: Envelope, ts: float) -> None:
        self.envelopes.append(envelope)
        self.stamps.append(ts)

    def record_done(self, node: TrackedNode, seq: int) -> None:
        """Every envelope of the node's record seq is added: its cursor may go with them."""
        name = node_cursor(node.swarm_id, node.node_id)
        self.cursors[name], self.nodes[name] = str(seq), node
        if len(self.envelopes) >= PUBLISH_SLICE:
            self.full.append(Slice(self.envelopes, dict(self.cursors)))
            self.envelopes = []

    def slices(self) -> list[Slice]:
        """What to publish, in order; the last slice carries every cursor (it may have no envelopes)."""
        return [*self.full, Slice(self.envelopes, self.cursors)]

    def published(self, cursors: dict[str, str]) -> None:
        """A slice is on the bus: its nodes' records up to these cursors need not be published again."""
        for name, seq in cursors.items():
            self.nodes[name].published_seq = int(seq)


@dataclass(slots=True)
class Commit:
    durable: list[DurableEvent] = field(default_factory=list)
    # Per node read in this call: (node, last seq read, outbox offset after the lines read).
    read_through: dict[NodeKey, tuple[TrackedNode, int, int]] = field(default_factory=dict)
    exited_swarms: set[str] = field(default_factory=set)
    status_changed: bool = False  # a node's status changed: its row says so at once

    @property
    def urgent(self) -> bool:
        """Something here is more than progress: a durable event, an exit, a node's new status."""
        return bool(self.durable or self.exited_swarms or self.status_changed)

    def last_seq(self, node: TrackedNode) -> int:
        """The last seq of the node already read: in this call, else committed."""
        read = self.read_through.get(node.key)
        return node.committed_seq if read is None else read[1]

    def read(self, node: TrackedNode, last_seq: int, end_offset: int) -> None:
        self.read_through[node.key] = (node, last_seq, end_offset)

    def node_rows(self) -> list[dict[str, Any]]:
        """Each node's row as the commit stores it (ingest progress with its state), in lock order: the
        parameters of one executemany UPDATE by primary key, which updates (and locks) rows in that order."""
        rows = []
        for node, last_seq, end_offset in sorted(self.read_through.values(), key=lambda t: lock_order(t[0])):
            rows.append(
                {
                    "swarm_id": node.swarm_id,
                    "node_id": node.node_id,
                    "last_seq": last_seq,
                    "outbox_offset": end_offset,
                    "status": str(node.status),
                    "last_heartbeat_at": datetime.fromtimestamp(node.last_seen, UTC) if node.last_seen else None,
                    "pid": node.pid,
                    "exit_code": node.exit_code,
                }
            )
        return rows

    def committed(self) -> None:
        """The transaction is committed: the nodes' records and offsets are durable."""
        for node, last_seq, end_offset in self.read_through.values():
            node.committed_seq, node.committed_offset = last_seq, end_offset
