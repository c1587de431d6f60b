"""One SSE client's side of the fan-out: its filter and its bounded queue.

The hub appends the items a client wants; the client's response drains them.  When a client falls
behind by more than its limit — a count of events or a size of their frames in bytes, whichever comes
first — it is cut off: its queue is dropped at once (memory stays bounded whatever the client does) and
its stream ends with a reason; the client resumes by id.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from mirror.items import EntryKey, StreamItem


@dataclass(frozen=True, slots=True)
class QueueLimit:
    """How far one client may fall behind before it is cut off."""

    events: int
    bytes: int


class Subscriber:
    __slots__ = ("_wake", "cut_event", "cut_reason", "limit", "node_id", "queue", "queued_bytes", "seam", "swarm_id")

    def __init__(self, *, swarm_id: str | None, node_id: int | None, limit: QueueLimit, seam: EntryKey) -> None:
        self.swarm_id = swarm_id
        self.node_id = node_id
        self.limit = limit
        self.seam = seam  # the hub's position when this client subscribed: live items come after it
        self.queue: deque[StreamItem] = deque()
        self.queued_bytes = 0  # the frames' sizes (shared between clients: a budget, not a measure of memory)
        self.cut_reason: str | None = None
        self.cut_event = asyncio.Event()
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

    def offer(self, items: Sequence[StreamItem]) -> None:
        """Called by the hub (synchronously, in stream order) with each batch of new items."""
        if self.cut_reason is not None:
            return
        wanted = [item for item in items if self.matches(item)] if self.filtered else items
        if not wanted:
            return
        size = sum(len(item.frame) for item in wanted)
        if len(self.queue) + len(wanted) > self.limit.events:
            self.cut(
                f"client too slow: more than {self.limit.events} events waiting to be sent; "
                "reconnect with Last-Event-ID to resume where you stopped"
            )
            return
        if self.queued_bytes + size > self.limit.bytes:
            self.cut(
                f"client too slow: more than {self.limit.bytes} bytes of events waiting to be sent; "
                "reconnect with Last-Event-ID to resume where you stopped"
            )
            return
        self.queue.extend(wanted)
        self.queued_bytes += size
        self._wake.set()

    def cut(self, reason: str) -> None:
        if self.cut_reason is None:
            self.cut_reason = reason
            self.queue.clear()
            self.queued_bytes = 0
            self.cut_event.set()
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
        """Until there is something to send or the client has been cut off."""
        while not self.queue and self.cut_reason is None:
            self._wake.clear()
            await self._wake.wait()
