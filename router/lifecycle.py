"""The one swarm transition table, and the only function that changes a swarm's status.

Every change is written together with its event (into the event outbox) in the caller's transaction,
so a crash can never split a lifecycle change from the event that announces it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from router.store.outbox import add_event
from router.store.swarms import now
from router.store.tables import SwarmRow
from services.protocol import EventName, Health, SwarmStatus, make_envelope

S = SwarmStatus

TRANSITIONS: dict[SwarmStatus, frozenset[SwarmStatus]] = {
    S.LAUNCHING: frozenset({S.PENDING, S.RUNNING, S.REJECTED, S.FAILED, S.TERMINATING}),
    S.PENDING: frozenset({S.RUNNING, S.TERMINATING, S.TERMINATED, S.FAILED}),
    S.RUNNING: frozenset({S.TERMINATING, S.TERMINATED, S.FAILED}),
    S.TERMINATING: frozenset({S.TERMINATED, S.FAILED}),
    S.TERMINATED: frozenset({S.REMOVED}),
    S.FAILED: frozenset({S.REMOVED}),
    S.REJECTED: frozenset(),
    S.REMOVED: frozenset(),
}


class IllegalTransition(RuntimeError):
    def __init__(self, swarm_id: str, source: str, target: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[SwarmStatus(source)])) or "none"
        super().__init__(f"swarm {swarm_id}: {source} → {target} is not a legal transition (from {source}: {allowed})")


def can_transition(source: SwarmStatus | str, target: SwarmStatus | str) -> bool:
    return SwarmStatus(target) in TRANSITIONS[SwarmStatus(source)]


def swarm_event(swarm: SwarmRow, event: EventName, /, **fields: Any) -> dict[str, Any]:
    """An event about a swarm: data always names the swarm and, once known, its job."""
    return make_envelope(event, {"swarm_id": swarm.swarm_id, "job_id": swarm.job_id, **fields})


def emit(session: AsyncSession, swarm: SwarmRow, event: EventName, /, **fields: Any) -> None:
    add_event(session, swarm_event(swarm, event, **fields))


def _status_fields(swarm: SwarmRow) -> dict[str, Any]:
    return {
        "status": swarm.status,
        "health": swarm.health,
        "reason": swarm.reason,
        "health_reason": swarm.health_reason,
    }


def transition(
    session: AsyncSession,
    swarm: SwarmRow,
    target: SwarmStatus,
    reason: str | None = None,
    request_id: str | None = None,
) -> None:
    """Move a swarm to target, persisting the change and its events in the caller's transaction.
    request_id names the command the change answers (a terminate's own id), when there is one."""
    if not can_transition(swarm.status, target):
        raise IllegalTransition(swarm.swarm_id, swarm.status, target)
    moment = now()
    swarm.status = str(target)
    swarm.updated_at = moment
    if reason is not None:
        swarm.reason = reason
    if target in (S.TERMINATED, S.FAILED, S.REJECTED):
        swarm.terminated_at = moment
    answers = {"request_id": request_id} if request_id else {}
    if target is S.REMOVED:
        emit(session, swarm, EventName.SWARM_REMOVED, reason=swarm.reason)
        return
    emit(session, swarm, EventName.SWARM_STATUS, **_status_fields(swarm), **answers)
    if target in (S.TERMINATED, S.FAILED):
        emit(session, swarm, EventName.SWARM_TERMINATED, status=str(target), reason=swarm.reason, **answers)


def set_reason(session: AsyncSession, swarm: SwarmRow, reason: str) -> None:
    """A new lifecycle reason without a change of status (e.g. Slurm's reason a job still waits)."""
    if swarm.reason == reason:
        return
    swarm.reason = reason
    swarm.updated_at = now()
    emit(session, swarm, EventName.SWARM_STATUS, **_status_fields(swarm))


def set_health(session: AsyncSession, swarm: SwarmRow, health: Health, reason: str | None = None) -> None:
    """Health is a signal about our view of the swarm, never a lifecycle decision.  Its reason is its
    own (health_reason), apart from the lifecycle reason."""
    reason = None if health is Health.OK else reason
    if swarm.health == health and swarm.health_reason == reason:
        return
    swarm.health = str(health)
    swarm.health_reason = reason
    swarm.updated_at = now()
    emit(session, swarm, EventName.SWARM_STATUS, **_status_fields(swarm))
