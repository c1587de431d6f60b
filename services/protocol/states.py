"""The named states of swarms and nodes (the transition table lives in router/lifecycle)."""

from enum import StrEnum


class SwarmStatus(StrEnum):
    LAUNCHING = "launching"
    PENDING = "pending"
    RUNNING = "running"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    REMOVED = "removed"
    REJECTED = "rejected"
    FAILED = "failed"


# A swarm in one of these has ended; it stays visible until the removal TTL has passed.
ENDED_STATUSES = frozenset({SwarmStatus.TERMINATED, SwarmStatus.FAILED})
# Never listed: launch refused (no swarm was made) or removed after its TTL.
HIDDEN_STATUSES = frozenset({SwarmStatus.REJECTED, SwarmStatus.REMOVED})


class Health(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"  # the last probe failed or did not answer; a health signal, never a death


class NodeStatus(StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    STALE = "stale"  # missed heartbeats; a health signal, not a lifecycle decision
    EXITED = "exited"


class InjectionStatus(StrEnum):
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    FAILED = "failed"
