"""Reads of one node's durable transcript: its turns, each with its commands and approval requests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.tables import ApprovalRow, CommandRow, TurnRow


@dataclass(frozen=True)
class NodeTurn:
    turn: TurnRow
    commands: list[CommandRow]  # in the order the node ran them
    approvals: list[ApprovalRow]  # oldest first


async def node_turns(session: AsyncSession, swarm_id: str, node_id: int) -> list[NodeTurn]:
    """Every turn of the node, oldest first (turns not started yet last)."""
    turns = await session.scalars(
        select(TurnRow)
        .where(TurnRow.swarm_id == swarm_id, TurnRow.node_id == node_id)
        .order_by(TurnRow.started_at.is_(None), TurnRow.started_at)
    )
    commands = await session.scalars(
        select(CommandRow)
        .where(CommandRow.swarm_id == swarm_id, CommandRow.node_id == node_id)
        .order_by(CommandRow.seq)
    )
    approvals = await session.scalars(
        select(ApprovalRow)
        .where(ApprovalRow.swarm_id == swarm_id, ApprovalRow.node_id == node_id)
        .order_by(ApprovalRow.created_at)
    )
    commands_of: dict[str | None, list[CommandRow]] = {}
    for command in commands:
        commands_of.setdefault(command.injection_id, []).append(command)
    approvals_of: dict[str | None, list[ApprovalRow]] = {}
    for approval in approvals:
        approvals_of.setdefault(approval.injection_id, []).append(approval)
    return [
        NodeTurn(turn, commands_of.get(turn.injection_id, []), approvals_of.get(turn.injection_id, []))
        for turn in turns
    ]
