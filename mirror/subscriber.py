"""One SSE client's side of the fan-out: its filter and its bounded queue.

The hub appends the items a client wants; the client's response drains them.  When a client falls
behind by more than its limit — a count of events or a size of their frames in bytes, whichever comes
first — it is lapped: its queue is dropped at once (memory stays bounded whatever the client does) and
its stream goes on from the bus, after the last event it was sent, at the client's own pace
(mirror/stream.py).  Only a client that stopped reading is cut off (its stream ends; it resumes by id).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from mirror.items import EntryKey, StreamItem


@dataclass(frozen=True, slots=True)
class QueueLimit:
    """How far one client may fall behind before it is lapped (and catches up from the bus)."""

    events: int
    bytes: int


class Subscriber:
    __slots__ = (
        "_wake",
        "alarm",
        "cut_reason",
        "lapped",
        "limit",
        "node_id",
        "queue",
        "queued_bytes",
        "seam",
        "swarm_id",
        "writes",
    )

    def __init__(self, *, swarm_id: str | None, node_id: int | None, limit: QueueLimit, seam: EntryKey) -> None:
        self.swarm_id = swarm_id
        self.node_id = node_id
        self.limit = limit
        self.seam = seam  # the hub's position when this client subscribed: live items come after it
        self.queue: deque[StreamItem] = deque()
        self.queued_bytes = 0  # the frames' sizes (shared between clients: a budget, not a measure of memory)
        self.lapped = False  # the queue overflowed and was dropped: the stream re-reads from the bus
        self.cut_reason: str | None = None
        self.alarm = asyncio.Event()  # set when lapped or cut: its stream's watchdog looks (mirror/stream.py)
        self.writes = 0  # writes of its stream that completed (counted by mirror/stream.py)
        self._wake = asyncio.Event()

    @property
    def filtered(self) -> bool:
        return self.swarm_id is not None or self.node_id is not None

    def matches(self, item: StreamItem) -> bool:
        """``swarm_id``: that swarm's events only.  ``node_id``: that node's events and the events that
        name no node (the swarm's own lifecycle), so a node view still sees its swarm end."""
        if self.swarm_id is not None and item.swarm_id != self.swarm_id:
            return False
        return self.node_id is None or item.node_id is None or item.node_id == self.node_id

    def offer(self, items: Sequence[StreamItem]) -> bool:
        """Called by the hub (synchronously, in stream order) with each batch of new items; True when
        they lapped this client just now (it was a whole queue behind)."""
        if self.cut_reason is not None or self.lapped:
            return False
        wanted = [item for item in items if self.matches(item)] if self.filtered else items
        if not wanted:
            return False
        size = sum(len(item.frame) for item in wanted)
        if len(self.queue) + len(wanted) > self.limit.events or self.queued_bytes + size > self.limit.bytes:
            self.lapped = True
            self.queue.clear()
            self.queued_bytes = 0
            self._wake.set()
            self.alarm.set()
            return True
        self.queue.extend(wanted)
        self.queued_bytes += size
        self._wake.set()
        return False

    def rejoin(self, seam: EntryKey) -> None:
        """Live again from ``seam`` (the hub's position now); the stream re-reads what it missed."""
        self.lapped = False
        self.seam = seam

    def cut(self, reason: str) -> None:
        if self.cut_reason is None:
            self.cut_reason = reason
            self.queue.clear()
            self.queued_bytes = 0
            self.alarm.set()
            self._wake.set()

    def take(self, most: int, most_bytes: int) -> list[StreamItem]:
        """The oldest queued items, up to ``most`` of them and ``most_bytes`` of frames (at least one)."""
        queue = self.queue
        if len(queue) <= most and self.queued_bytes <= most_bytes:
            taken = list(queue)
            queue.clear()
            self.queued_bytes = 0
            return taken
        taken = []
        size = 0
        while queue and len(taken) < most:
            frame_size = len(queue[0].frame)
            if taken and size + frame_size > most_bytes:
                break
            taken.append(queue.popleft())
            size += frame_size
        self.queued_bytes -= size
        return taken

    async def wait(self) -> None:
        """Until there is something to send, or the client was lapped or cut off."""
        while not self.queue and not self.lapped and self.cut_reason is None:
            self._wake.clear()
            await self._wake.wait()
