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

# A translated text field longer than this means the runtime's message repeats it: ``raw`` is left out
# and ``raw_omitted`` says why, so a big command output or answer is sent once, not twice.
RAW_REPEAT_LIMIT = 65_536  # characters


def record_envelope(node: TrackedNode, record: Record, event: EventName, fields: dict[str, Any]) -> bytes:
    """An event of the node's record, encoded: who wrote it, the record's seq, the translated fields,
    and the runtime's own message under ``raw`` (unless a field already holds its bulk, see
    ``RAW_REPEAT_LIMIT``)."""
    data = {
        "swarm_id": node.swarm_id,
        "job_id": node.job_id,
        "node_id": node.node_id,
        "injection_id": record.injection_id,
        "seq": record.seq,
        **fields,
    }
    if record.kind == KIND_RUNTIME:
        repeated = next((name for name, value in fields.items() if _long_text(value)), None)
        if repeated is None:
            data["raw"] = record.payload
        else:
            data["raw_omitted"] = f"the runtime's message repeats {repeated} (over {RAW_REPEAT_LIMIT:,} characters)"
    return orjson.dumps(make_envelope(event, data, record.timestamp))


def _long_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) > RAW_REPEAT_LIMIT


def seq_gap_warning(node: TrackedNode, last_seq: int, ignored: int, highest: int) -> bytes:
    """The agent_warning that lines of the node's outbox were not believed (their seq skipped ahead of
    the node's chain, read up to last_seq); it names seqs and a count, never the lines themselves."""
    message = (
        f"{ignored} line(s) of node {node.node_id}'s outbox with an out-of-order seq were ignored (the latest "
        f"seq {highest}; the node's records are read up to seq {last_seq}): the node numbers its records one by "
        "one, so another process wrote them"
    )
    data = {
        "swarm_id": node.swarm_id,
        "job_id": node.job_id,
        "node_id": node.node_id,
        "injection_id": None,
        "seq": last_seq,
        "message": message,
        "code": "seqOutOfOrder",
    }
    return orjson.dumps(make_envelope(EventName.AGENT_WARNING, data))


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
