"""The envelopes ingest publishes: one per event made from a node's record, and the node's status.

A record's envelope is encoded (orjson) as soon as it is made: the bus stores bytes, and a batch that
holds bytes instead of nested dicts gives the garbage collector nothing to walk (its full collections
were about 40 % of ingest's CPU under load, measured with bench/bench_ingest.py).
"""

from __future__ import annotations

from typing import Any

import orjson

from router.ingest_nodes import TrackedNode
from router.ingest_records import Record
from services.node.records import KIND_RUNTIME
from services.protocol import EventName, make_envelope, utc_timestamp


def record_envelope(node: TrackedNode, record: Record, event: EventName, fields: dict[str, Any]) -> bytes:
    """An event of the node's record, encoded: who wrote it, the record's seq, the translated fields,
    and the runtime's own message under ``raw``."""
    data = {
        "swarm_id": node.swarm_id,
        "job_id": node.job_id,
        "node_id": node.node_id,
        "injection_id": record.injection_id,
        "seq": record.seq,
        **fields,
    }
    if record.kind == KIND_RUNTIME:
        data["raw"] = record.payload
    return orjson.dumps(make_envelope(event, data, record.timestamp))


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
