"""The event-bus contract (services/bus/base.py), written once and run against every implementation.

Subclass ``BusContract`` as ``Test...`` in a test module and provide two fixtures:

- ``new_bus``: ``(maxlen: int = 10_000, max_bytes: int = 1 << 30) -> EventBus`` — a fresh, empty bus
  (closed by the fixture);
- ``blocked_readers``: ``async () -> int`` — how many ``read_after`` calls are blocked on it right now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from itertools import pairwise
from typing import Any, Protocol

import orjson
import pytest

from services.bus.base import START_ID, BusEntry, EventBus, parse_entry_id

from .servers import wait_until_async

DEADLINE = 10.0  # seconds; an await that takes longer than this is a hang, not slowness


class NewBus(Protocol):
    def __call__(self, maxlen: int = ..., max_bytes: int = ...) -> EventBus: ...


BlockedReaders = Callable[[], Awaitable[int]]


def envelope(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "protocol": "codeswarm.router.v1",
        "type": "event",
        "id": f"e{n}",
        "event": "assistant_delta",
        "data": {"swarm_id": "s1", "node_id": n % 4, "n": n, **extra},
    }


def envelopes(start: int, count: int) -> list[dict[str, Any]]:
    return [envelope(n) for n in range(start, start + count)]


def numbers(entries: list[BusEntry]) -> list[int]:
    return [entry.envelope()["data"]["n"] for entry in entries]


def assert_increasing(ids: list[str]) -> None:
    keys = [parse_entry_id(entry_id) for entry_id in ids]
    assert all(a < b for a, b in pairwise(keys)), ids
    assert not keys or keys[0] > parse_entry_id(START_ID)


async def read_all(bus: EventBus, after_id: str = START_ID, page: int = 1000) -> list[BusEntry]:
    """Every entry after ``after_id``, paging with ``count``."""
    found: list[BusEntry] = []
    while batch := await bus.read_after(after_id, count=page):
        assert len(batch) <= page
        found.extend(batch)
        after_id = batch[-1].id
    return found


async def started_blocked(
    bus: EventBus, blocked_readers: BlockedReaders, readers: int, block_ms: int = 0
) -> list[asyncio.Task[list[BusEntry]]]:
    """Start ``readers`` tasks reading after the bus's last id and wait until all are blocked."""
    after = await bus.last_id()
    tasks = [asyncio.create_task(bus.read_after(after, block_ms=block_ms)) for _ in range(readers)]

    async def all_blocked() -> bool:
        return await blocked_readers() >= readers

    await wait_until_async(all_blocked, DEADLINE, f"{readers} blocked readers")
    assert not any(task.done() for task in tasks)
    return tasks


class BusContract:
    @pytest.fixture
    def bus(self, new_bus: NewBus) -> EventBus:
        return new_bus()

    async def test_empty_bus(self, bus: EventBus) -> None:
        assert await bus.last_id() == START_ID
        assert await bus.first_id() is None
        assert await bus.read_after(START_ID) == []
        assert await bus.cursors() == {}
        assert await bus.ping()

    async def test_publish_keeps_order_and_ids_increase(self, bus: EventBus) -> None:
        ids = await bus.publish(envelopes(0, 3))
        ids += await bus.publish(envelopes(3, 2))
        assert len(ids) == 5
        assert_increasing(ids)
        entries = await bus.read_after(START_ID)
        assert [entry.id for entry in entries] == ids
        assert numbers(entries) == [0, 1, 2, 3, 4]
        assert entries[0].envelope() == envelope(0)
        assert await bus.first_id() == ids[0]
        assert await bus.last_id() == ids[-1]

    async def test_ids_increase_across_rapid_single_publishes(self, bus: EventBus) -> None:
        ids = [(await bus.publish([envelope(n)]))[0] for n in range(300)]
        assert_increasing(ids)  # many land in the same millisecond: the sequence part breaks the tie

    async def test_bytes_are_published_as_is(self, bus: EventBus) -> None:
        raw = b'{"event": "x",  "data": {"swarm_id": "s\xc3\xa9"}}'  # odd spacing survives untouched
        [entry_id] = await bus.publish([raw])
        [entry] = await bus.read_after(START_ID)
        assert (entry.id, entry.data) == (entry_id, raw)
        assert entry.envelope()["data"]["swarm_id"] == "sé"

    async def test_replay_after_id_pages_in_order(self, bus: EventBus) -> None:
        ids = await bus.publish(envelopes(0, 25))
        assert numbers(await bus.read_after(ids[9])) == list(range(10, 25))
        assert numbers(await bus.read_after(ids[9], count=4)) == [10, 11, 12, 13]
        assert numbers(await read_all(bus, page=4)) == list(range(25))
        assert await bus.read_after(ids[-1]) == []
        assert numbers(await bus.read_after("1-0")) == list(range(25))  # before everything published

    async def test_bad_arguments_are_refused(self, bus: EventBus) -> None:
        for bad_id in ("", "$", "abc", "12", "1-x", "-1-0"):
            with pytest.raises(ValueError):
                await bus.read_after(bad_id)
        with pytest.raises(ValueError):
            await bus.read_after(START_ID, count=0)

    async def test_unencodable_envelope_publishes_nothing(self, bus: EventBus) -> None:
        with pytest.raises(TypeError):
            await bus.publish([envelope(0), {"bad": object()}], {"c": "1"})
        assert await bus.read_after(START_ID) == []
        assert await bus.cursors() == {}

    async def test_read_without_block_returns_at_once(self, bus: EventBus) -> None:
        assert await asyncio.wait_for(bus.read_after(START_ID), DEADLINE) == []

    async def test_blocking_read_times_out_empty(self, bus: EventBus) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        assert await asyncio.wait_for(bus.read_after(START_ID, block_ms=150), DEADLINE) == []
        assert 0.1 <= loop.time() - began < DEADLINE

    async def test_blocking_read_wakes_on_publish(self, bus: EventBus, blocked_readers: BlockedReaders) -> None:
        [reader] = await started_blocked(bus, blocked_readers, 1, block_ms=0)  # 0 = wait forever
        loop = asyncio.get_running_loop()
        published_at = loop.time()
        [entry_id] = await bus.publish([envelope(7)])
        entries = await asyncio.wait_for(reader, DEADLINE)
        assert loop.time() - published_at < 1.0
        assert [(entry.id, entry.envelope()) for entry in entries] == [(entry_id, envelope(7))]

    async def test_many_concurrent_readers_all_wake(self, bus: EventBus, blocked_readers: BlockedReaders) -> None:
        await bus.publish(envelopes(0, 3))  # the readers wait for what comes after these
        readers = await started_blocked(bus, blocked_readers, 25, block_ms=30_000)
        [entry_id] = await bus.publish([envelope(3)])
        results = await asyncio.wait_for(asyncio.gather(*readers), DEADLINE)
        assert all([entry.id for entry in result] == [entry_id] for result in results)

    async def test_cancelled_reader_leaves_bus_usable(self, bus: EventBus, blocked_readers: BlockedReaders) -> None:
        [reader] = await started_blocked(bus, blocked_readers, 1, block_ms=0)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader

        async def none_blocked() -> bool:
            return await blocked_readers() == 0

        await wait_until_async(none_blocked, DEADLINE, "the cancelled reader to be gone")
        ids = await bus.publish([envelope(1)])
        assert [entry.id for entry in await bus.read_after(START_ID, block_ms=1000)] == ids

    async def test_cursors_are_stored_with_publish(self, bus: EventBus) -> None:
        ids = await bus.publish([envelope(0)], {"node-1": "1"})
        assert await bus.cursors() == {"node-1": "1"}
        ids += await bus.publish([envelope(1)], {"node-1": "2", "node-2": "7"})
        assert await bus.cursors() == {"node-1": "2", "node-2": "7"}
        assert await bus.publish([], {"relay": "9"}) == []  # progress without events
        assert await bus.publish([]) == []
        assert await bus.cursors() == {"node-1": "2", "node-2": "7", "relay": "9"}
        assert [entry.id for entry in await bus.read_after(START_ID)] == ids

    async def test_cursors_never_run_ahead_of_entries(self, bus: EventBus) -> None:
        """A watcher reading the cursor and then the stream must always find the entries it counts."""
        batches, size = 30, 40
        done = asyncio.Event()
        observed: list[tuple[int, int]] = []

        async def watch() -> None:
            while not done.is_set():
                claimed = int((await bus.cursors()).get("published", "0"))
                observed.append((claimed, len(await bus.read_after(START_ID, count=batches * size))))
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        for batch in range(batches):
            await bus.publish(envelopes(batch * size, size), {"published": str((batch + 1) * size)})
            await asyncio.sleep(0)
        done.set()
        await asyncio.wait_for(watcher, DEADLINE)
        assert observed and all(present >= claimed for claimed, present in observed)
        assert await bus.cursors() == {"published": str(batches * size)}

    async def test_large_publish_in_one_call(self, bus: EventBus) -> None:
        ids = await bus.publish(envelopes(0, 5000), {"big": "5000"})
        assert len(ids) == 5000
        assert_increasing(ids)
        entries = await read_all(bus)
        assert [entry.id for entry in entries] == ids
        assert numbers(entries) == list(range(5000))
        assert await bus.cursors() == {"big": "5000"}

    async def test_trimming_keeps_a_contiguous_newest_suffix(self, new_bus: NewBus) -> None:
        bus = new_bus(maxlen=50)
        ids: list[str] = []
        for start in range(0, 600, 30):
            ids += await bus.publish(envelopes(start, 30))
        first = await bus.first_id()
        assert first is not None and first in ids and first != ids[0]
        retained = await read_all(bus)
        assert [entry.id for entry in retained] == ids[ids.index(first) :]
        assert len(retained) == 50
        assert await bus.last_id() == ids[-1]

    async def test_trimming_by_bytes_keeps_the_newest_entries_that_fit(self, new_bus: NewBus) -> None:
        bus = new_bus(max_bytes=20_000)
        ids = await bus.publish([envelope(n, text="z" * 900) for n in range(10)])
        assert len(await read_all(bus)) == 10  # about 10 KB: nothing trimmed yet
        for start in range(10, 100, 15):
            ids += await bus.publish([envelope(n, text="z" * 900) for n in range(start, start + 15)])
        retained = await read_all(bus)
        assert sum(len(entry.data) for entry in retained) <= 20_000
        assert [entry.id for entry in retained] == ids[len(ids) - len(retained) :]
        assert len(retained) >= 19  # everything that fits stays (each entry is just over 1 KB)
        (huge,) = await bus.publish([envelope(100, text="z" * 50_000)])
        assert [entry.id for entry in await read_all(bus)] == [huge]  # the newest stays, over the bound alone
        after = await bus.publish(envelopes(101, 3))
        assert [entry.id for entry in await read_all(bus)] == after  # and goes once newer ones come

    async def test_replay_from_a_trimmed_id_shows_the_gap(self, new_bus: NewBus) -> None:
        bus = new_bus(maxlen=20)
        ids: list[str] = []
        for start in range(0, 400, 20):
            ids += await bus.publish(envelopes(start, 20))
        after = ids[0]
        first = await bus.first_id()
        assert first is not None and parse_entry_id(first) > parse_entry_id(after)
        replay = await bus.read_after(after, count=5)
        assert replay[0].id == first  # the reader sees first_id > after: entries in between are gone

    async def test_envelope_round_trip(self, bus: EventBus) -> None:
        sent = envelope(1, text="héllo ✓", nested={"list": [1, 2.5, None, True]})
        await bus.publish([sent])
        [entry] = await bus.read_after(START_ID)
        assert entry.envelope() == sent
        assert orjson.loads(entry.data) == sent
