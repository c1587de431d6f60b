"""Reads and writes of swarms and their nodes, including the write-once job_id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.tables import NodeRow, SwarmRow
from services.protocol import HIDDEN_STATUSES, NodeStatus, SwarmStatus


class JobIdAlreadySet(RuntimeError):
    """A swarm's job_id is set exactly once; a second write is a bug somewhere upstream."""


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def assign_job_id(session: AsyncSession, swarm_id: str, job_id: str) -> None:
    """Record the provider's job id; raises JobIdAlreadySet if this swarm already has one."""
    result = await session.execute(
        update(SwarmRow)
        .where(SwarmRow.swarm_id == swarm_id, SwarmRow.job_id.is_(None))
        .values(job_id=job_id, updated_at=now())
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = await session.scalar(select(SwarmRow.job_id).where(SwarmRow.swarm_id == swarm_id))
        raise JobIdAlreadySet(f"swarm {swarm_id} already has job_id {current!r}; refusing {job_id!r}")


async def get_swarm(session: AsyncSession, swarm_id: str, *, for_update: bool = False) -> SwarmRow | None:
    query = select(SwarmRow).where(SwarmRow.swarm_id == swarm_id)
    if for_update:
        query = query.with_for_update()
    row: SwarmRow | None = await session.scalar(query)
    return row


async def visible_swarms(session: AsyncSession) -> Sequence[SwarmRow]:
    """Swarms a user can see: everything but rejected launches and removed swarms."""
    rows = await session.scalars(
        select(SwarmRow).where(SwarmRow.status.not_in([str(s) for s in HIDDEN_STATUSES])).order_by(SwarmRow.created_at)
    )
    return rows.all()


async def swarm_counts_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(SwarmRow.status, func.count()).group_by(SwarmRow.status))
    return {str(status): int(count) for status, count in rows.all()}


async def swarms_in(session: AsyncSession, statuses: Sequence[str]) -> Sequence[SwarmRow]:
    rows = await session.scalars(select(SwarmRow).where(SwarmRow.status.in_(statuses)))
    return rows.all()


async def swarm_by_idempotency_key(session: AsyncSession, key: str) -> SwarmRow | None:
    row: SwarmRow | None = await session.scalar(select(SwarmRow).where(SwarmRow.idempotency_key == key))
    return row


async def nodes_of(session: AsyncSession, swarm_ids: Sequence[str]) -> dict[str, list[NodeRow]]:
    grouped: dict[str, list[NodeRow]] = {swarm_id: [] for swarm_id in swarm_ids}
    if swarm_ids:
        rows = await session.scalars(
            select(NodeRow).where(NodeRow.swarm_id.in_(swarm_ids)).order_by(NodeRow.swarm_id, NodeRow.node_id)
        )
        for row in rows:
            grouped[row.swarm_id].append(row)
    return grouped


def create_nodes(session: AsyncSession, swarm_id: str, count: int) -> None:
    for node_id in range(count):
        session.add(NodeRow(swarm_id=swarm_id, node_id=node_id, status=str(NodeStatus.STARTING)))


async def removed_keeping_files(session: AsyncSession) -> Sequence[SwarmRow]:
    """Removed swarms whose workspaces and mailboxes have not been deleted yet, longest removed first
    (a removed swarm's updated_at is its removal: nothing changes it afterwards)."""
    rows = await session.scalars(
        select(SwarmRow)
        .where(SwarmRow.status == str(SwarmStatus.REMOVED), SwarmRow.files_deleted_at.is_(None))
        .order_by(SwarmRow.updated_at, SwarmRow.swarm_id)
    )
    return rows.all()


async def removed_with_archive(session: AsyncSession, removed_before: datetime) -> Sequence[SwarmRow]:
    rows = await session.scalars(
        select(SwarmRow).where(
            SwarmRow.status == str(SwarmStatus.REMOVED),
            SwarmRow.archive_path.is_not(None),
            SwarmRow.updated_at <= removed_before,
        )
    )
    return rows.all()


async def next_holder_of_job(session: AsyncSession, swarm: SwarmRow) -> str | None:
    """The first swarm created after this one that its cluster gave the same job id (the job id repeated:
    a reinstalled controller, a cleared state directory), if there is one."""
    if swarm.job_id is None:
        return None
    holder: str | None = await session.scalar(
        select(SwarmRow.swarm_id)
        .where(
            SwarmRow.cluster == swarm.cluster,
            SwarmRow.job_id == swarm.job_id,
            SwarmRow.created_at > swarm.created_at,
        )
        .order_by(SwarmRow.created_at)
        .limit(1)
    )
    return holder
