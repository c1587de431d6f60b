"""Database rows → the public views of services/protocol/views.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from router.store.swarms import aware
from router.store.tables import ApprovalRow, CommandRow, NodeRow, SwarmRow, TurnRow
from services.protocol import Health, NodeStatus, SwarmStatus, utc_timestamp
from services.protocol.views import ApprovalView, CommandView, NodeView, SwarmView, TurnView

View = TypeVar("View", bound=BaseModel)


def iso(moment: datetime | None) -> str | None:
    return utc_timestamp(aware(moment).timestamp()) if moment else None


def view_of(view: type[View], row: object, **computed: Any) -> View:
    """`view` with `computed` and every other field copied from the row's attribute of that name."""
    copied = {name: getattr(row, name) for name in view.model_fields if name not in computed}
    return view(**copied, **computed)


def swarm_view(swarm: SwarmRow, nodes: Sequence[NodeRow]) -> SwarmView:
    return view_of(
        SwarmView,
        swarm,
        status=SwarmStatus(swarm.status),
        health=Health(swarm.health),
        created_at=iso(swarm.created_at) or "",
        terminated_at=iso(swarm.terminated_at),
        nodes=[
            view_of(NodeView, n, status=NodeStatus(n.status), last_heartbeat_at=iso(n.last_heartbeat_at)) for n in nodes
        ],
    )


def approval_view(row: ApprovalRow) -> ApprovalView:
    return view_of(ApprovalView, row, available_decisions=list(row.available_decisions))


def turn_view(turn: TurnRow, commands: Sequence[CommandRow], approvals: Sequence[ApprovalRow] = ()) -> TurnView:
    return view_of(
        TurnView,
        turn,
        started_at=iso(turn.started_at),
        completed_at=iso(turn.completed_at),
        commands=[view_of(CommandView, c) for c in commands],
        approvals=[approval_view(a) for a in approvals],
    )
