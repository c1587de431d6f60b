"""``GET /v1/events``: one client's SSE stream — replay from its last id, then live, exactly once.

Order of work for a client that sends ``Last-Event-ID`` (header, or the ``last_event_id`` query):

1. subscribe to the hub first — from here on every new entry is queued for this client;
2. replay the entries between its id and the hub position at subscription (the seam) from the bus;
3. stream the queue, dropping anything at or before the last id sent (de-duplication at the seam).

A client that falls a whole queue behind (mirror/subscriber.py) is lapped: its queue is dropped, and
its stream does 1 to 3 again from the last event it was sent — a reconnect inside the mirror, so a
client that reads as fast as it can is never cut off however far behind a burst leaves it; the bus is
its buffer.  A lapped client none of whose writes then completes within ``stall_s`` has stopped
reading: its stream ends (it resumes by id).

The SSE ``id`` of every event is its bus entry id; the mirror's own events (reconcile results) carry
none.  If the client's id is older than the oldest entry the bus still holds, it first gets
``event: reset`` (data ``{reason, first_id}``): events were trimmed, so it should reload ``/v1/state``
and stream from that state's ``last_event_id``; what is retained follows.  When the mirror shuts down
a client gets ``event: error`` (data ``{reason, last_event_id}``) and the stream ends; it resumes by id.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Message, Receive, Scope, Send

from mirror.coalesce import render
from mirror.hub import Hub
from mirror.items import SSE_SEP, EntryKey, StreamItem, encode_frame, encode_retry, entry_key, item_from_entry
from mirror.subscriber import QueueLimit, Subscriber
from services.bus.base import START_ID

log = logging.getLogger(__name__)

RESET_EVENT = "reset"
ERROR_EVENT = "error"


@dataclass(frozen=True, slots=True)
class StreamOptions:
    keepalive_s: float
    coalesce_ms: float
    queue_limit: QueueLimit
    take_most: int = 1000  # items rendered into one write
    take_most_bytes: int = 1 << 20  # and their frames' bytes (one item over it goes alone)
    retry_ms: int = 1000  # how soon EventSource reconnects
    stall_s: float = 10.0  # a write that does not complete for this long: the client stopped reading
    cutoff_grace_s: float = 2.0  # how long a cut-off client gets to take its final event


def resume_id(header: str | None, query: str | None) -> str | None:
    """The id to resume after.  The header wins: a browser's EventSource sends the newest id in it on
    every reconnect, while a ``last_event_id`` in its URL stays what it was when the stream opened."""
    chosen = header if header else query
    if not chosen:
        return None
    entry_key(chosen)  # ValueError for anything that is not a stream entry id
    return chosen


def _control(event: str, payload: dict[str, object]) -> bytes:
    return encode_frame(event, orjson.dumps(payload))


def _reset(hub: Hub, reason: str, first_id: str | None) -> bytes:
    """``event: reset``: the client cannot get every event after its id, and why (counted)."""
    hub.metrics.resets.inc()
    return _control(RESET_EVENT, {"reason": reason, "first_id": first_id})


def _id(key: EntryKey) -> str:
    return f"{key[0]}-{key[1]}"


class _Progress:
    __slots__ = ("last",)

    def __init__(self, last: EntryKey) -> None:
        self.last = last  # key of the newest entry this client has been sent (or is known to have)


async def _replay(
    hub: Hub, subscriber: Subscriber, after: str, options: StreamOptions, progress: _Progress
) -> AsyncIterator[bytes]:
    after_key = entry_key(after)
    seam = subscriber.seam
    async with hub.replay_slots:
        first = await hub.bus.first_id()
        newest = await hub.bus.last_id()
    if after_key > entry_key(newest) and after_key > seam:
        yield _reset(
            hub,
            f"event id {after} is newer than anything in the event stream (newest {newest}): "
            "the stream was reset; reload /v1/state and stream from its last_event_id",
            first,
        )
        progress.last = seam
        return
    if first is not None and after != START_ID and after_key < entry_key(first):
        yield _reset(
            hub,
            f"events after {after} are no longer retained (the oldest is {first}); "
            "reload /v1/state and stream from its last_event_id — the retained events follow",
            first,
        )
    if after_key >= seam:  # nothing to replay; live entries up to after_key are dropped as duplicates
        progress.last = after_key
        for item in hub.announced_between(after_key, seam):
            if subscriber.matches(item):
                yield item.frame
        return
    announced = deque(item for item in hub.announced_between(after_key, seam) if subscriber.matches(item))
    cursor = after
    done = False
    while not done:
        async with hub.replay_slots:
            entries = await hub.bus.read_after(cursor, count=hub.batch)
        done = len(entries) < hub.batch
        items: list[StreamItem] = []
        for entry in entries:
            key = entry_key(entry.id)
            if key > seam:
                done = True
                break
            while announced and announced[0].key < key:
                items.append(announced.popleft())
            cursor = entry.id
            parsed = item_from_entry(entry, hub.ledger)
            if parsed is not None and subscriber.matches(parsed):
                items.append(parsed)
            if key == seam:
                done = True
                break
        if done:
            items.extend(announced)
        if items:
            hub.metrics.delivered(items, live=False)
            yield render(items, options.coalesce_ms)
    progress.last = seam


async def event_frames(
    hub: Hub, subscriber: Subscriber, after: str | None, options: StreamOptions
) -> AsyncIterator[bytes]:
    try:
        yield encode_retry(options.retry_ms)
        progress = _Progress(subscriber.seam)
        if after is not None:
            hub.metrics.replays.inc()
            async for chunk in _replay(hub, subscriber, after, options, progress):
                yield chunk
                subscriber.writes += 1
        dedupe = progress.last > subscriber.seam
        while True:
            await subscriber.wait()
            if subscriber.cut_reason is not None:
                yield _control(ERROR_EVENT, {"reason": subscriber.cut_reason, "last_event_id": _id(progress.last)})
                return
            if subscriber.lapped:  # what it missed is on the bus: read it from there, at its pace
                hub.rejoin(subscriber)
                async for chunk in _replay(hub, subscriber, _id(progress.last), options, progress):
                    yield chunk
                    subscriber.writes += 1
                dedupe = progress.last > subscriber.seam
                continue
            items = subscriber.take(options.take_most, options.take_most_bytes)
            hub.taken(subscriber)
            if dedupe:  # the client was ahead of the hub: skip what it already has
                items = [item for item in items if item.synthetic or item.key > progress.last]
                dedupe = all(item.synthetic for item in items)  # in order: after one newer entry, all are
            for item in reversed(items):
                if not item.synthetic:
                    progress.last = item.key
                    break
            if items:
                hub.metrics.delivered(items, live=True)
                yield render(items, options.coalesce_ms)
                subscriber.writes += 1  # resumed: that write completed
    finally:
        hub.unsubscribe(subscriber)


class ClientStream(EventSourceResponse):
    """sse-starlette's response, letting go of a client that stopped reading: one that was lapped and
    none of whose writes then completes within ``stall_s``, or one that was cut off (the mirror is
    stopping) but does not take its final event within a grace period.  Nothing is held for it."""

    def __init__(self, hub: Hub, subscriber: Subscriber, after: str | None, options: StreamOptions) -> None:
        super().__init__(
            event_frames(hub, subscriber, after, options),
            ping=options.keepalive_s,
            sep=SSE_SEP,
            ping_message_factory=lambda: ServerSentEvent(comment="keep-alive", sep=SSE_SEP),
            headers={"Cache-Control": "no-store"},
        )
        self._hub = hub
        self._subscriber = subscriber
        self._options = options

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        """One send as sse-starlette makes it, less the cancel scope of its ``send_timeout``, which is
        not set here (the watchdog below lets a stalled client go).  That scope was a fifth of the
        mirror's CPU for 500 clients at 100 events/s (bench_throughput's fan-out case)."""
        try:
            await send(message)
        except BaseException:
            self._send_interrupted = True  # sse-starlette then sends nothing more on this transport
            raise

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as watchdog_group:

                async def watchdog() -> None:
                    await self._until_let_go()
                    watchdog_group.cancel_scope.cancel()

                watchdog_group.start_soon(watchdog)
                await super().__call__(scope, receive, send)
                watchdog_group.cancel_scope.cancel()
        finally:
            self._hub.unsubscribe(self._subscriber)

    async def _until_let_go(self) -> None:
        """Return when the client is to be let go.  Woken when it is lapped or cut; while it is behind,
        one of its writes must complete every ``stall_s``."""
        subscriber, stall_s = self._subscriber, self._options.stall_s
        while True:
            await subscriber.alarm.wait()
            if subscriber.cut_reason is not None:
                await anyio.sleep(self._options.cutoff_grace_s)
                log.warning("SSE client did not take its final event; closing it")
                return
            writes = subscriber.writes
            await anyio.sleep(stall_s)
            if subscriber.cut_reason is not None:
                continue
            if subscriber.writes == writes:
                self._hub.stalled(subscriber, stall_s)
                return
            if not subscriber.lapped:
                subscriber.alarm.clear()  # it is reading: nothing to watch until the next lap
