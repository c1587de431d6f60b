"""Relays committed lifecycle events from the outbox table to the bus, exactly once and in order.

The bus stores the id of the last relayed outbox row as a cursor, atomically with the entries, so a
relay that crashed after publishing but before forgetting the rows does not publish them twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from router.store.database import Database
from router.store.outbox import events_after, forget_through, highest_id_issued
from services.bus.base import EventBus

log = logging.getLogger(__name__)

CURSOR = "outbox"
BATCH = 500
FORGET_AFTER = 200  # relayed rows are deleted in bulk, off the latency path


class OutboxRelay:
    def __init__(self, db: Database, bus: EventBus, idle_poll_s: float = 1.0) -> None:
        self.db = db
        self.bus = bus
        self.idle_poll_s = idle_poll_s
        self._wake = asyncio.Event()
        self._relayed_through: int | None = None
        self._unforgotten = 0

    def wake(self) -> None:
        self._wake.set()

    async def relay_pending(self) -> int:
        """Publish every committed event not yet on the bus; returns how many were published."""
        if self._relayed_through is None:
            self._relayed_through = await self._starting_point()
        published = 0
        while True:
            async with self.db.transaction() as session:
                rows = await events_after(session, self._relayed_through, BATCH)
            if not rows:
                break
            last = rows[-1].id
            await self.bus.publish([row.envelope.encode() for row in rows], cursors={CURSOR: str(last)})
            self._relayed_through = last
            published += len(rows)
        self._unforgotten += published
        if self._unforgotten >= FORGET_AFTER or (published == 0 and self._unforgotten):
            async with self.db.transaction() as session:
                await forget_through(session, self._relayed_through)
            self._unforgotten = 0
        return published

    async def _starting_point(self) -> int:
        """The bus's cursor — unless the bus has seen ids this database never issued, which means its
        events came from another database (a new SQLite file, say): then this one's start from 0."""
        cursor = int((await self.bus.cursors()).get(CURSOR, "0"))
        async with self.db.transaction() as session:
            issued = await highest_id_issued(session)
        if cursor <= issued:
            return cursor
        log.warning(
            "the bus has relayed outbox ids up to %d, but this database has issued ids only up to %d: "
            "its events did not come from this database; relaying this database's events from the start",
            cursor,
            issued,
        )
        return 0

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.idle_poll_s)
            self._wake.clear()
            try:
                await self.relay_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The bus or the database did not answer: the events stay in the outbox; try again.
                log.exception("outbox relay failed; retrying")
                self._relayed_through = None
                await asyncio.sleep(self.idle_poll_s)
