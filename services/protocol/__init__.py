"""The wire contract between router, mirror, web and API clients (`codeswarm.router.v1`)."""

from services.protocol.commands import ApprovalRequest, InjectRequest, InterruptRequest, LaunchRequest, TerminateRequest
from services.protocol.events import (
    DELTA_EVENTS,
    PROTOCOL,
    EventName,
    make_envelope,
    new_event_id,
    utc_timestamp,
)
from services.protocol.states import (
    ENDED_STATUSES,
    HIDDEN_STATUSES,
    Health,
    InjectionStatus,
    NodeStatus,
    SwarmStatus,
)

__all__ = [
    "DELTA_EVENTS",
    "ENDED_STATUSES",
    "HIDDEN_STATUSES",
    "PROTOCOL",
    "ApprovalRequest",
    "EventName",
    "Health",
    "InjectRequest",
    "InjectionStatus",
    "InterruptRequest",
    "LaunchRequest",
    "NodeStatus",
    "SwarmStatus",
    "TerminateRequest",
    "make_envelope",
    "new_event_id",
    "utc_timestamp",
]
