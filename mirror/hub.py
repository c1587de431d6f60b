"""The hub: the one bus reader of a mirror process.

A single task reads the bus, applies each entry to the read model and hands the batch to every
subscriber (one read for all clients, never one per client).  Everything between receiving a batch and
handing it out is synchronous, so the model's position and what subscribers have been given always
agree: a client that subscribes at position P receives exactly the entries after P.

The mirror's own events (reconcile results) are announced here too, at the current position, and kept
in a short log so a client replaying across that position gets them in the right place.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import KW_ONLY, InitVar, dataclass

import orjson

from mirror.items import EntryKey, StreamItem, entry_key, parse_entry, synthetic_item
from mirror.ledger import RequestLedger
from mirror.metrics import MirrorMetrics
from mirror.readmodel import ReadModel
from mirror.subscriber import QueueLimit, Subscriber
from services.bus.base import BusEntry, EventBus
from services.waiting import wait_event

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Hub:
    bus: EventBus
    model: ReadModel
    ledger: RequestLedger
    _: KW_ONLY
    batch: int = 1000
    block_ms: int = 2000
    synthetic_keep: InitVar[int] = 1024
    replay_concurrency: InitVar[int] = 32
    hold_s: float = 0.2  # how long a backlog waits for a client that is sending to make room

    def __post_init__(self, synthetic_keep: int, replay_concurrency: int) -> None:
        self.subscribers: set[Subscriber] = set()
        self.error: str | None = None  # why the bus cannot be read right now
        self.events_in = 0
        self.clients_lapped = 0  # clients a whole queue behind, sent on from the bus
        self.clients_cut = 0  # clients that stopped reading, and were let go
        self.metrics = MirrorMetrics()  # the mirror's own, once wired (mirror/core.py)
        self.replay_slots = asyncio.Semaphore(replay_concurrency)  # bounds concurrent replay reads
        self._synthetic: deque[StreamItem] = deque(maxlen=synthetic_keep)
        self._taken = asyncio.Event()  # a client's stream took items from its queue
        self._takers: set[Subscriber] = set()  # whose streams took since the last full batch

    # -- reading -----------------------------------------------------------------------------------

    async def catch_up(self) -> int:
        """Apply every retained entry after the model's position (start-up; no clients yet)."""
        applied = 0
        while True:
            entries = await self.bus.read_after(self.model.position, count=self.batch)
            if not entries:
                return applied
            for entry in entries:
                self._apply_only(entry)
            self.model.advance(entries[-1].id, entry_key(entries[-1].id))
            applied += len(entries)

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                entries = await self.bus.read_after(self.model.position, count=self.batch, block_ms=self.block_ms)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.error is None:
                    log.warning("cannot read the event bus (retrying): %s", exc)
                self.error = f"event bus read failed: {exc}"
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if self.error is not None:
                log.info("event bus readable again")
            self.error = None
            backoff = 0.1
            if entries:
                self.ingest(entries)
            if len(entries) == self.batch:
                await self._make_room()

    def ingest(self, entries: Sequence[BusEntry]) -> list[StreamItem]:
        """Apply and fan out one batch (synchronous on purpose: see the module docstring)."""
        items: list[StreamItem] = []
        model = self.model
        for entry in entries:
            parsed = parse_entry(entry, self.ledger)
            if parsed is not None:
                item, envelope = parsed
                model.apply(item.event, envelope, item.key)
                items.append(item)
        last = entries[-1]
        model.advance(last.id, entry_key(last.id))
        self.events_in += len(entries)
        if items:
            self._fan_out(items)
        return items

    async def _make_room(self) -> None:
        """Before the next batch of a backlog: let every client's stream send what it has queued, and
        wait (up to ``hold_s`` in all) for the ones that took from their queue since the last batch but
        could not take another full one now.  A client that reads as fast as it can is then not lapped
        by a burst it could absorb (the in-process bus answers a backlog without ever suspending this
        task), which would cost it a re-read from the bus; one that stopped reading, or is still
        replaying, is not waited for."""
        await asyncio.sleep(0)
        takers, self._takers = self._takers, set()
        deadline = asyncio.get_running_loop().time() + self.hold_s
        for subscriber in takers & self.subscribers:
            limit = subscriber.limit
            room = min(self.batch, limit.events)
            while subscriber.cut_reason is None and (
                len(subscriber.queue) > limit.events - room or subscriber.queued_bytes > limit.bytes // 2
            ):
                self._taken.clear()
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return
                await wait_event(self._taken, remaining)

    def taken(self, subscriber: Subscriber) -> None:
        """``subscriber``'s stream took items from its queue (so a held backlog may go on)."""
        self._takers.add(subscriber)
        self._taken.set()

    def _apply_only(self, entry: BusEntry) -> None:
        try:
            envelope = orjson.loads(entry.data)
        except orjson.JSONDecodeError:
            return
        if isinstance(envelope, dict) and isinstance(envelope.get("event"), str):
            data = envelope.get("data")
            if isinstance(data, dict):
                self.ledger.learn(envelope["event"], data)
            self.model.apply(envelope["event"], envelope, entry_key(entry.id))

    def _fan_out(self, items: Sequence[StreamItem]) -> None:
        for subscriber in self.subscribers:
            if subscriber.offer(items):
                self.clients_lapped += 1

    # -- clients -----------------------------------------------------------------------------------

    def subscribe(self, *, swarm_id: str | None, node_id: int | None, limit: QueueLimit) -> Subscriber:
        subscriber = Subscriber(swarm_id=swarm_id, node_id=node_id, limit=limit, seam=self.model.position_key)
        self.subscribers.add(subscriber)
        return subscriber

    def rejoin(self, subscriber: Subscriber) -> None:
        """A lapped client's stream is about to re-read what it missed: it is live again from here."""
        subscriber.rejoin(self.model.position_key)

    def stalled(self, subscriber: Subscriber, stall_s: float) -> None:
        """``subscriber``'s stream was let go: none of its writes completed for ``stall_s``."""
        self.unsubscribe(subscriber)
        self.clients_cut += 1
        log.warning("SSE client cut off: it read nothing for %.1fs (it resumes by id)", stall_s)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        self._takers.discard(subscriber)

    # -- the mirror's own events -------------------------------------------------------------------

    def announce(self, event: str, data: dict[str, object]) -> StreamItem:
        """Send an event of the mirror's own to every client, placed at the current position."""
        item = synthetic_item(event, data, self.model.position_key)
        self._synthetic.append(item)
        self._fan_out([item])
        return item

    def announced_between(self, after: EntryKey, upto: EntryKey) -> list[StreamItem]:
        """The mirror's own events placed at positions in [after, upto]: a client that last saw entry
        ``after`` may or may not have received the ones placed right after it, so it gets them again
        (they are idempotent); it cannot have received any placed later."""
        return [item for item in self._synthetic if after <= item.key <= upto]
