"""The one swarm transition table, the decisions that pick a transition, and the only functions that
change a swarm's status, reason and health.

The decisions (``on_*``) are pure: given what is known of a swarm and what happened (a launch outcome,
a probe report, the nodes' exit records, a terminate, the TTL, the launch timeout), they say the target
status and its reason, or None when nothing changes.  router/authority.py and router/supervisor.py only
apply them, through ``transition``, ``set_reason`` and ``set_health``.

Every change is written together with its event (into the event outbox) in the caller's transaction,
so a crash can never split a lifecycle change from the event that announces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from router.ingest_nodes import TrackedNode
from router.providers.base import JobReport, JobState
from router.store.outbox import add_event
from router.store.swarms import aware, now
from router.store.tables import SwarmRow
from services.protocol import ENDED_STATUSES, HIDDEN_STATUSES, EventName, Health, NodeStatus, SwarmStatus, make_envelope

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


# ---- decisions --------------------------------------------------------------------------------

TERMINATED_BY_USER = "terminated by user"
EXIT_REASON_MAX = 2000  # characters of the nodes' own exit reasons kept in a swarm's reason


@dataclass(frozen=True, slots=True)
class Decision:
    """Move the swarm to target; reason None keeps the reason it has."""

    target: SwarmStatus
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class JobEnd:
    """A confirmed end of the swarm's job: ``on_confirmed_end`` decides the target."""

    failed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class ProbeVerdict:
    """What one probe report means for a swarm: its health always; at most one of the job's end, a
    change of status, or a new pending reason."""

    health: Health
    health_reason: str | None = None
    ended: JobEnd | None = None
    change: Decision | None = None
    pending_reason: str | None = None


def on_launch_accepted() -> dict[str, str]:
    """A launch accepted: the new swarm's first status and health (launching, healthy)."""
    return {"status": str(S.LAUNCHING), "health": str(Health.OK)}


def on_provider_missing(message: str) -> tuple[Health, str]:
    """A live swarm whose provider is no longer configured: left alone, its health unknown saying why."""
    return Health.UNKNOWN, message


def on_launch_refused(status: SwarmStatus | str, reason: str) -> Decision | None:
    """The provider refused the launch, or it failed before a job started: rejected while launching,
    failed once past it (a terminate came first), nothing once ended."""
    target = S.REJECTED if can_transition(status, S.REJECTED) else S.FAILED
    return Decision(target, reason) if can_transition(status, target) else None


def on_launch_abandoned(status: SwarmStatus | str, reason: str) -> Decision | None:
    """The router's bookkeeping failed after the job started (the job is cancelled): the swarm fails."""
    return Decision(S.FAILED, reason) if can_transition(status, S.FAILED) else None


def on_job_started(status: SwarmStatus | str, report: JobReport | None) -> Decision | None:
    """The provider started the job: pending (with the scheduler's reason it waits) or running; a swarm
    no longer launching (a terminate came first) stays as it is."""
    if status != S.LAUNCHING:
        return None
    if report is not None and report.state is JobState.PENDING:
        return Decision(S.PENDING, report.reason)
    return Decision(S.RUNNING)  # running, or already over: the supervisor's probes confirm what comes next


def on_job_id_reused(status: SwarmStatus | str, cluster: str, job_id: str, new_swarm_id: str) -> Decision | None:
    """The scheduler gave this swarm's job id to a newer swarm: this swarm's job is gone; a live one fails
    (an ended one stays as it ended)."""
    if not can_transition(status, S.FAILED):
        return None
    return Decision(
        S.FAILED,
        f"{cluster} gave job id {job_id} to swarm {new_swarm_id}: this swarm's job is no "
        "longer there (was the scheduler reinstalled, or its state cleared?)",
    )


def on_probe_report(
    status: SwarmStatus | str, reason: str | None, report: JobReport | None, no_answer: str
) -> ProbeVerdict:
    """A probe is weak signal: no report, or an unknown one, only makes health unknown (no_answer says
    why when the probe gave nothing); only the backend's record of an ended job ends the swarm."""
    if report is None or report.state is JobState.UNKNOWN:
        return ProbeVerdict(Health.UNKNOWN, report.reason if report else no_answer)
    if report.state is JobState.ENDED:
        return ProbeVerdict(Health.OK, ended=JobEnd(report.failed, report.reason or "job ended"))
    if report.state is JobState.RUNNING and status == S.PENDING:
        return ProbeVerdict(Health.OK, change=Decision(S.RUNNING))
    if report.state is JobState.PENDING and report.reason and report.reason != reason:
        return ProbeVerdict(Health.OK, pending_reason=report.reason)
    return ProbeVerdict(Health.OK)


def failed_exits(nodes: Sequence[TrackedNode]) -> str | None:
    """Why the node programs that failed exited, in their own words, nodes with the same words together:
    `node 0, 1 exited with code 2: codex binary '/x' does not exist ...`.  None when none failed."""
    groups: dict[tuple[int, str], list[int]] = {}
    for node in nodes:
        if node.exit_code:
            groups.setdefault((node.exit_code, node.exit_reason or "no reason given"), []).append(node.node_id)
    parts = [
        f"node {', '.join(map(str, ids))} exited with code {code}: {reason}" for (code, reason), ids in groups.items()
    ]
    summary = "; ".join(parts)
    return summary[: EXIT_REASON_MAX - 1] + "…" if len(summary) > EXIT_REASON_MAX else summary or None


def on_exit_records(
    status: SwarmStatus | str,
    reason: str | None,
    node_count: int,
    nodes: Sequence[TrackedNode],
    probe_tells_why: bool,
) -> Decision | None:
    """How the swarm ended by its nodes' exit records, once each node wrote one; None before, and for
    a clean end where the backend's probe says why the job ended (Slurm's COMPLETED, CANCELLED...)."""
    if len(nodes) < node_count or any(n.status is not NodeStatus.EXITED for n in nodes):
        return None
    if status == S.TERMINATING:
        return Decision(S.TERMINATED, reason or TERMINATED_BY_USER)
    failures = failed_exits(nodes)
    if failures:
        return Decision(S.FAILED, failures)
    if probe_tells_why:
        return None
    return Decision(S.TERMINATED, "every node program exited")


def on_confirmed_end(
    status: SwarmStatus | str, reason: str | None, end: JobEnd, by_records: Decision | None
) -> Decision | None:
    """A confirmed end (the user's terminate done, or the backend's record that the job is over).  A
    terminating swarm ends terminated with its terminate's reason; otherwise the nodes' exit records,
    when every node wrote one, say how it ended; else the end says.  An ended or hidden swarm stays."""
    if status in ENDED_STATUSES or status in HIDDEN_STATUSES:
        return None
    if status == S.TERMINATING:
        return Decision(S.TERMINATED, reason or end.reason)
    if by_records is not None:
        return by_records
    return Decision(S.FAILED if end.failed else S.TERMINATED, end.reason)


def on_terminate(status: SwarmStatus | str) -> Decision | None:
    """The user's terminate: a swarm already terminating or ended stays as it is (the terminate is
    answered with the first one's id; a hidden one is not found before this is asked)."""
    if not can_transition(status, S.TERMINATING):
        return None
    return Decision(S.TERMINATING, TERMINATED_BY_USER)


def on_ttl(
    status: SwarmStatus | str, terminated_at: datetime | None, moment: datetime, ttl_s: float
) -> Decision | None:
    """An ended swarm stays visible for the TTL after it ended, then it is removed."""
    if status not in ENDED_STATUSES or terminated_at is None:
        return None
    return Decision(S.REMOVED) if aware(terminated_at) <= moment - timedelta(seconds=ttl_s) else None


def on_pending_timeout(
    status: SwarmStatus | str, reason: str | None, created_at: datetime, moment: datetime, timeout_s: float
) -> JobEnd | None:
    """A launch still pending past its hard timeout is cancelled and fails: nothing stays queued."""
    if status != S.PENDING or aware(created_at) >= moment - timedelta(seconds=timeout_s):
        return None
    return JobEnd(
        failed=True,
        reason=f"still pending after the launch timeout of {timeout_s:g}s ({reason or 'no reason given'}); cancelled",
    )


# ---- writing ----------------------------------------------------------------------------------


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
