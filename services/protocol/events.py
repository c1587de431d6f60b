"""The `codeswarm.router.v1` event envelope and the one list of event names.

An event travels as a JSON envelope::

    {"protocol": "codeswarm.router.v1", "type": "event", "id": "...", "timestamp": "...",
     "event": "<name>", "data": {"swarm_id": ..., ...}}

`data` always carries `swarm_id` and, where it applies, `job_id`, `node_id` and `injection_id`; the raw
runtime message is kept under `raw`.  Clients ignore events and fields they do not know.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import time
from enum import StrEnum
from typing import Any

PROTOCOL = "codeswarm.router.v1"


class EventName(StrEnum):
    # execution (from the agent runtimes, translated by the router)
    TURN_STARTED = "turn_started"
    REASONING_DELTA = "reasoning_delta"
    REASONING = "reasoning"
    ASSISTANT_DELTA = "assistant_delta"
    ASSISTANT = "assistant"
    COMMAND_STARTED = "command_started"
    COMMAND_OUTPUT_DELTA = "command_output_delta"
    COMMAND_COMPLETED = "command_completed"
    FILECHANGE_STARTED = "filechange_started"
    FILECHANGE_COMPLETED = "filechange_completed"
    EXEC_APPROVAL_REQUIRED = "exec_approval_required"
    EXEC_APPROVAL_RESOLVED = "exec_approval_resolved"
    USAGE = "usage"
    TURN_COMPLETE = "turn_complete"
    THREAD_STATUS = "thread_status"
    AGENT_ERROR = "agent_error"
    AGENT_WARNING = "agent_warning"  # e.g. the agent retrying its model, the turn watchdog, a restart
    # lifecycle and commands (decided by the router)
    SWARM_LAUNCH_PROGRESS = "swarm_launch_progress"
    SWARM_LAUNCHED = "swarm_launched"
    SWARM_STATUS = "swarm_status"
    SWARM_TERMINATED = "swarm_terminated"
    SWARM_REMOVED = "swarm_removed"
    NODE_STATUS = "node_status"
    COMMAND_REJECTED = "command_rejected"
    INJECT_ACK = "inject_ack"
    INJECT_DELIVERED = "inject_delivered"
    INJECT_FAILED = "inject_failed"
    INJECT_QUEUED = "inject_queued"  # waits behind the node's running turn
    INJECT_STEERED = "inject_steered"  # added to the node's running turn
    WORKSPACE_ARCHIVE_READY = "workspace_archive_ready"
    WORKSPACE_ARCHIVE_FAILED = "workspace_archive_failed"
    SWARM_FILES_DELETED = "swarm_files_deleted"  # the retention policy reclaimed a removed swarm's disk


# Streamed fragments: they travel on the bus only and may be coalesced; everything else is durable.
DELTA_EVENTS = frozenset({EventName.REASONING_DELTA, EventName.ASSISTANT_DELTA, EventName.COMMAND_OUTPUT_DELTA})

_counter = itertools.count()
_prefix = os.urandom(4).hex()


def new_event_id() -> str:
    """A process-unique, cheap event id (not the bus entry id, which the bus assigns)."""
    return f"{_prefix}{next(_counter):x}"


@functools.lru_cache(maxsize=64)
def _utc_second(whole_seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole_seconds))


def utc_timestamp(epoch_seconds: float | None = None) -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2026-11-24T16:18:17.123Z``.  Called for every envelope:
    the part up to the second is formatted once per second, and nothing else is allocated but the text
    (the microseconds are rounded half to even first, exactly as ``datetime.fromtimestamp`` does)."""
    moment = time.time() if epoch_seconds is None else epoch_seconds
    whole = math.floor(moment)
    micros = round((moment - whole) * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    return f"{_utc_second(whole)}.{micros // 1000:03d}Z"


def make_envelope(event: EventName | str, data: dict[str, Any], timestamp: str | None = None) -> dict[str, Any]:
    """Wrap one event's data in the v1 envelope.  Plain dicts: this sits on the ingest hot path."""
    return {
        "protocol": PROTOCOL,
        "type": "event",
        "id": new_event_id(),
        "timestamp": timestamp or utc_timestamp(),
        "event": str(event),
        "data": data,
    }
