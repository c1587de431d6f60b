"""The lifecycle event outbox: events are written in the transaction of the change they describe.

Events are collected on the session and inserted at commit, under one lock, by Database.transaction():
outbox ids are therefore committed in id order, and the relay can safely follow them by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.tables import OutboxEventRow

PENDING_EVENTS = "codeswarm.pending_events"


def add_event(session: AsyncSession, envelope: dict[str, Any]) -> None:
    session.info.setdefault(PENDING_EVENTS, []).append(orjson.dumps(envelope).decode())


def take_pending(session: AsyncSession) -> list[str]:
    pending: list[str] = session.info.pop(PENDING_EVENTS, [])
    return pending


async def events_after(session: AsyncSession, after_id: int, limit: int) -> Sequence[OutboxEventRow]:
    rows = await session.scalars(
        select(OutboxEventRow).where(OutboxEventRow.id > after_id).order_by(OutboxEventRow.id).limit(limit)
    )
    return rows.all()


async def forget_through(session: AsyncSession, last_id: int) -> None:
    """Drop events the bus has confirmed (its cursor is at or past last_id)."""
    await session.execute(delete(OutboxEventRow).where(OutboxEventRow.id <= last_id))


async def highest_id_issued(session: AsyncSession) -> int:
    """The largest outbox id this database has ever handed out (0 if none); ids are never reused."""
    if session.get_bind().dialect.name == "sqlite":
        issued = await session.scalar(text("SELECT seq FROM sqlite_sequence WHERE name = 'event_outbox'"))
    else:
        issued = await session.scalar(
            text("SELECT pg_sequence_last_value(pg_get_serial_sequence('event_outbox', 'id')::regclass)")
        )
    return int(issued or 0)
