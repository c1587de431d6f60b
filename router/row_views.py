"""Database rows → the public views of services/protocol/views.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from router.store.swarms import aware
from router.store.tables import ApprovalRow, CommandRow, NodeRow, SwarmRow, TurnRow
from services.protocol import Health, NodeStatus, SwarmStatus, utc_timestamp
from services.protocol.views import ApprovalView, CommandView, NodeView, SwarmView, TurnView


def iso(moment: datetime | None) -> str | None:
    return utc_timestamp(aware(moment).timestamp()) if moment else None


def swarm_view(swarm: SwarmRow, nodes: Sequence[NodeRow]) -> SwarmView:
    return SwarmView(
        swarm_id=swarm.swarm_id,
        job_id=swarm.job_id,
        alias=swarm.alias,
        provider=swarm.provider,
        runtime=swarm.runtime,
        node_count=swarm.node_count,
        status=SwarmStatus(swarm.status),
        health=Health(swarm.health),
        reason=swarm.reason,
        health_reason=swarm.health_reason,
        cluster=swarm.cluster,
        created_at=iso(swarm.created_at) or "",
        terminated_at=iso(swarm.terminated_at),
        nodes=[
            NodeView(node_id=n.node_id, status=NodeStatus(n.status), last_heartbeat_at=iso(n.last_heartbeat_at))
            for n in nodes
        ],
    )


def approval_view(row: ApprovalRow) -> ApprovalView:
    return ApprovalView(
        call_id=row.call_id,
        node_id=row.node_id,
        injection_id=row.injection_id,
        kind=row.kind,
        command=row.command,
        cwd=row.cwd,
        reason=row.reason,
        available_decisions=list(row.available_decisions),
        status=row.status,
        decision=row.decision,
    )


def turn_view(turn: TurnRow, commands: Sequence[CommandRow], approvals: Sequence[ApprovalRow] = ()) -> TurnView:
    return TurnView(
        injection_id=turn.injection_id,
        prompt=turn.prompt,
        status=turn.status,
        started_at=iso(turn.started_at),
        completed_at=iso(turn.completed_at),
        reasoning=turn.reasoning,
        assistant=turn.assistant,
        commands=[
            CommandView(call_id=c.call_id, command=c.command, exit_code=c.exit_code, output=c.output, status=c.status)
            for c in commands
        ],
        approvals=[approval_view(a) for a in approvals],
        usage=turn.usage,
    )
