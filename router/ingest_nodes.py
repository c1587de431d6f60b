"""The router's in-memory state of each node it ingests from, and the decisions that change it.

What a node is doing (starting, idle, busy, exited), when it was last heard from, its pid and its exit
come from the node's own records; ingest changes them only through ``observe_record`` and
``observe_event``, the supervisor through ``mark_stale``, the authority through ``disbelieve_exit``.
The seqs and the offset say how far the node's records are on the bus and in the database (kept by
router/ingest_batch.py and router/ingest.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from router.translate import activity_after
from services.node.records import KIND_EXIT, KIND_HELLO
from services.protocol import EventName, NodeStatus

# Outbox lines come from the followers of one cluster; a job id is unique only within its cluster.
LOCAL_CLUSTER = "local"  # the default providers file's only entry (this host)
NodeKey = tuple[str, str, int]  # (cluster, job id, node id)

# At most one warning per node this often about outbox lines whose seq skipped ahead (not believed):
# a flood of forged lines costs the bus one small event a minute.
SEQ_GAP_WARN_S = 60.0


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
    seq_gaps_unreported: int = 0  # lines not believed (seq skipped ahead) since the last warning
    seq_gap_warned_at: float | None = None

    @property
    def key(self) -> NodeKey:
        return (self.cluster, self.job_id, self.node_id)

    @property
    def status(self) -> NodeStatus:
        if self.stale and self.activity is not NodeStatus.EXITED:
            return NodeStatus.STALE
        return self.activity


def lock_order(node: TrackedNode) -> tuple[str, int]:
    """Every transaction that updates several node rows updates them in this order, so two of them
    (ingest, the staleness sweep) can never deadlock on each other's rows."""
    return (node.swarm_id, node.node_id)


def observe_record(node: TrackedNode, kind: Any, ts: float, payload: dict[str, Any]) -> bool:
    """A record from the node: it is alive as of ts; hello and exit records say more.  True when this
    was the node's exit record."""
    node.last_seen = ts
    node.stale = False
    if kind == KIND_HELLO:
        node.activity, node.pid = NodeStatus.IDLE, payload.get("pid")
    elif kind == KIND_EXIT:
        node.activity, node.exit_code = NodeStatus.EXITED, int(payload.get("code", 1))
        node.exit_reason = payload.get("reason")
        return True
    return False


def observe_event(node: TrackedNode, event: EventName) -> None:
    """An event made from the node's record: a turn starting or ending changes what it is doing
    (an exited node stays exited)."""
    activity = activity_after(event)
    if activity is not None and node.activity is not NodeStatus.EXITED:
        node.activity = activity


def seq_gaps_to_report(node: TrackedNode, count: int, now: float) -> int | None:
    """Count lines of the node not believed (their seq skipped ahead); how many to report now, or None
    while the last warning is younger than SEQ_GAP_WARN_S (they are reported with the next one)."""
    node.seq_gaps_unreported += count
    if node.seq_gap_warned_at is not None and now - node.seq_gap_warned_at < SEQ_GAP_WARN_S:
        return None
    reported, node.seq_gaps_unreported, node.seq_gap_warned_at = node.seq_gaps_unreported, 0, now
    return reported


def stale_nodes(nodes: Iterable[TrackedNode], limit: float) -> list[TrackedNode]:
    """The live nodes (idle or busy, not yet stale) last heard from before limit (a Unix time)."""
    return [
        node
        for node in nodes
        if not node.stale
        and node.activity in (NodeStatus.IDLE, NodeStatus.BUSY)
        and node.last_seen is not None
        and node.last_seen < limit
    ]


def mark_stale(node: TrackedNode) -> None:
    """The node missed its heartbeats: a health signal (its status reads stale until it is heard from)."""
    node.stale = True


def disbelieve_exit(node: TrackedNode) -> None:
    """The node's exit record is not believed (its process still runs): it counts as running again."""
    node.activity, node.exit_code, node.exit_reason = NodeStatus.IDLE, None, None
