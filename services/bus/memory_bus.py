"""The in-process event bus of the embedded mode: Redis Streams semantics inside one event loop.

Entries live in parallel lists (ids packed into one int each, payloads of exactly their size) with a
moving head: trimming the oldest entries advances the head and the lists are compacted once the dead prefix
outgrows the live part, so appends and trims are amortized O(1) and "entries after id" is a bisect,
O(log n).

Every method runs on the event loop without awaiting in the middle of a change, so a publish (entries
plus cursors) is atomic for every other coroutine.  Not thread-safe: use it from one event loop.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from services.bus.base import START_ID, BusEntry, EventBus, encode_envelope, parse_entry_id
from services.waiting import wait_event

EntryKey = tuple[int, int]
SEQ_BITS = 64  # a Redis id's seq is a 64-bit number: (ms, seq) packs into ms << 64 | seq, in id order
SEQ_MASK = (1 << SEQ_BITS) - 1


def _pack(key: EntryKey) -> int:
    return key[0] << SEQ_BITS | min(key[1], SEQ_MASK)


def _entry_id(packed: int) -> str:
    return f"{packed >> SEQ_BITS}-{packed & SEQ_MASK}"


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class MemoryEventBus(EventBus):
    """Bounded to exactly ``maxlen`` entries (Redis trims approximately; this one is exact) and to
    ``max_bytes`` of payloads: the oldest entries are trimmed past either bound (the newest one always
    stays).  A client resuming from before what is retained is told (``reset``) by the mirror."""

    def __init__(
        self, maxlen: int = 200_000, *, max_bytes: int = 128 << 20, clock_ms: Callable[[], int] = _wall_clock_ms
    ) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.maxlen = maxlen
        self.max_bytes = max_bytes
        self._bytes = 0  # payload bytes retained
        self._clock_ms = clock_ms
        self._keys: list[int] = []  # packed ids, for bisect (40 B each; a tuple and an id string took 190)
        self._payloads: list[bytes] = []
        self._head = 0  # index of the oldest retained entry in both lists
        self._last: EntryKey = parse_entry_id(START_ID)
        self._cursors: dict[str, str] = {}
        self._published = asyncio.Event()  # set and replaced by a publish that has waiters
        self._waiting = 0
        self._closed = False

    @property
    def waiting_readers(self) -> int:
        """How many ``read_after`` calls are blocked right now (for tests and metrics)."""
        return self._waiting

    def __len__(self) -> int:
        return len(self._keys) - self._head

    async def publish(
        self, envelopes: Sequence[Mapping[str, Any] | bytes], cursors: Mapping[str, str] | None = None
    ) -> list[str]:
        """Append envelopes (mappings are encoded with orjson; ``bytes`` are taken as already-encoded
        JSON and stored as is) and store ``cursors`` in the same step; return the new entry ids."""
        self._check_open()
        # Kept as exact-size copies: the bytes orjson returns keep its whole 4 KB work buffer allocated
        # (4.1 KB held per entry of 500 B; about 550 B copied).  May raise: nothing has changed yet.
        payloads = [bytes(memoryview(encode_envelope(envelope))) for envelope in envelopes]
        now = self._clock_ms()
        keys = [self._next_key(now) for _ in payloads]
        ids = [f"{ms}-{seq}" for ms, seq in keys]
        self._keys += map(_pack, keys)
        self._payloads += payloads
        self._bytes += sum(map(len, payloads))
        if cursors:
            self._cursors.update(cursors)
        if payloads:
            self._trim()
            if self._waiting:  # every waiter holds this event: wake them all, the next ones get a new one
                self._published.set()
                self._published = asyncio.Event()
        return ids

    async def read_after(self, after_id: str, count: int = 1000, block_ms: int | None = None) -> list[BusEntry]:
        after = parse_entry_id(after_id)
        if count < 1:
            raise ValueError("count must be at least 1")
        if block_ms is not None and block_ms < 0:
            raise ValueError("block_ms must be >= 0 (0 = wait forever)")
        self._check_open()
        entries = self._slice(after, count)
        if entries or block_ms is None:
            return entries
        loop = asyncio.get_running_loop()
        deadline = None if block_ms == 0 else loop.time() + block_ms / 1000
        while not entries:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            published = self._published
            self._waiting += 1
            try:
                woken = await wait_event(published, remaining)
            finally:
                self._waiting -= 1
            if not woken:
                break
            self._check_open()
            entries = self._slice(after, count)
        return entries

    async def last_id(self) -> str:
        return _entry_id(self._keys[-1]) if len(self) else START_ID

    async def first_id(self) -> str | None:
        return _entry_id(self._keys[self._head]) if len(self) else None

    async def cursors(self) -> dict[str, str]:
        return dict(self._cursors)

    async def forget_cursors(self, names: Sequence[str]) -> None:
        for name in names:
            self._cursors.pop(name, None)

    async def ping(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        """Blocked readers wake up and get ``RuntimeError``; later calls fail the same way."""
        self._closed = True
        self._published.set()

    # -- internals -------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the event bus is closed")

    def _next_key(self, now: int) -> EntryKey:
        """Like Redis: the wall-clock ms with seq 0, or the last ms with seq + 1 when the clock has not
        moved on (same ms, or a clock that went backwards)."""
        last_ms, last_seq = self._last
        key = (now, 0) if now > last_ms else (last_ms, last_seq + 1)
        self._last = key
        return key

    def _slice(self, after: EntryKey, count: int) -> list[BusEntry]:
        start = bisect_right(self._keys, _pack(after), lo=self._head)
        keys, payloads = self._keys[start : start + count], self._payloads[start : start + count]
        return [BusEntry(_entry_id(key), payload) for key, payload in zip(keys, payloads, strict=True)]

    def _trim(self) -> None:
        head, payloads = self._head, self._payloads
        head += max(0, len(self) - self.maxlen)
        self._bytes -= sum(map(len, payloads[self._head : head]))
        while self._bytes > self.max_bytes and head < len(payloads) - 1:
            self._bytes -= len(payloads[head])
            head += 1
        self._head = head
        if head >= len(self._keys) - head:  # the dead prefix is at least the live part
            del self._keys[:head]
            del payloads[:head]
            self._head = 0
