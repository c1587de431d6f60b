"""Reads of a swarm's approval requests."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.tables import ApprovalRow


async def swarm_approvals(session: AsyncSession, swarm_id: str, *, pending_only: bool) -> Sequence[ApprovalRow]:
    """The swarm's approval requests, oldest first (by node among those of one moment)."""
    query = select(ApprovalRow).where(ApprovalRow.swarm_id == swarm_id)
    if pending_only:
        query = query.where(ApprovalRow.status == "pending")
    rows = await session.scalars(query.order_by(ApprovalRow.created_at, ApprovalRow.node_id))
    return rows.all()
