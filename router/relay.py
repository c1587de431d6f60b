"""Relays committed lifecycle events from the outbox table to the bus, exactly once and in order.

The bus stores the id of the last relayed outbox row as a cursor, atomically with the entries, so a
relay that crashed after publishing but before forgetting the rows does not publish them twice.

Once it has caught up with the table, the relay publishes what each commit hands it (ids and
envelopes, in commit order) without reading the table again: that read was a database round trip
on the path of every lifecycle event.  It goes back to the table after a bus error, on start, or
when too many handed-over events are waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence

import orjson

from router.metrics import RouterMetrics
from router.store.database import Database
from router.store.outbox import events_after, forget_through, highest_id_issued
from services.bus.base import EventBus
from services.waiting import wait_event

log = logging.getLogger(__name__)

CURSOR = "outbox"
BATCH = 500
FORGET_AFTER = 200  # relayed rows are deleted in bulk, off the latency path
MAX_HANDED_OVER = 10_000  # past this the bus is not keeping up: drop them and read the table instead
NAME_KEY = '"event":"'  # in an envelope as make_envelope orders it and orjson writes it: before "data"


def event_name(envelope: str) -> str:
    """The event name of an encoded envelope, for the metrics: read off its text, not parsed again
    (the name sits before the data, so the data is never scanned); parsed only if it is not there."""
    start = envelope.find(NAME_KEY)
    data = envelope.find('"data":')
    if start < 0 or (0 <= data < start):
        name: str = orjson.loads(envelope)["event"]
        return name
    start += len(NAME_KEY)
    return envelope[start : envelope.index('"', start)]


class OutboxRelay:
    def __init__(
        self, db: Database, bus: EventBus, idle_poll_s: float = 1.0, metrics: RouterMetrics | None = None
    ) -> None:
        self.db = db
        self.bus = bus
        self.idle_poll_s = idle_poll_s
        self._wake = asyncio.Event()
        self._relayed_through: int | None = None
        self._caught_up = False  # nothing committed past _relayed_through is missing from _handed_over
        self._handed_over: deque[tuple[int, str]] = deque()
        self._unforgotten = 0
        self.metrics = metrics or RouterMetrics()

    @property
    def backlog(self) -> int:
        """Committed events handed over and not yet on the bus."""
        return len(self._handed_over)

    def committed(self, events: Sequence[tuple[int, str]]) -> None:
        """Called by the database, in commit order, with the (outbox id, envelope) a commit wrote."""
        if len(self._handed_over) + len(events) > MAX_HANDED_OVER:
            self._handed_over.clear()
            self._caught_up = False
        else:
            self._handed_over.extend(events)
        self._wake.set()

    async def relay_pending(self) -> int:
        """Publish every committed event not yet on the bus; returns how many were published."""
        if self._relayed_through is None:
            self._relayed_through = await self._starting_point()
            self._caught_up = False
        published = 0
        if not self._caught_up:
            published += await self._publish_from_table()
            self._caught_up = True  # every later commit is handed over (ids past _relayed_through)
        published += await self._publish_handed_over()
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

    async def _publish_from_table(self) -> int:
        published = 0
        while True:
            assert self._relayed_through is not None
            async with self.db.transaction() as session:
                rows = await events_after(session, self._relayed_through, BATCH)
            if not rows:
                return published
            await self._publish([(row.id, row.envelope) for row in rows])
            published += len(rows)

    async def _publish_handed_over(self) -> int:
        published = 0
        while self._handed_over:
            assert self._relayed_through is not None
            batch: list[tuple[int, str]] = []
            while self._handed_over and len(batch) < BATCH:
                event = self._handed_over.popleft()
                if event[0] > self._relayed_through:  # not already published from the table
                    batch.append(event)
            if batch:
                await self._publish(batch)
                published += len(batch)
        return published

    async def _publish(self, events: list[tuple[int, str]]) -> None:
        last = events[-1][0]
        await self.bus.publish([envelope.encode() for _, envelope in events], cursors={CURSOR: str(last)})
        self._relayed_through = last
        for _, envelope in events:
            self.metrics.events_published.add(event_name(envelope))

    async def run(self) -> None:
        while True:
            await wait_event(self._wake, self.idle_poll_s)
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
