"""The in-process bus is bounded in bytes as well as in entries; the newest entry always stays."""

from __future__ import annotations

from services.bus import START_ID, MemoryEventBus


def payload(n: int, size: int) -> bytes:
    return b'{"n":%d,"pad":"%s"}' % (n, b"x" * (size - 20))


async def test_past_max_bytes_the_oldest_entries_go() -> None:
    bus = MemoryEventBus(1000, max_bytes=10_000)
    ids = [(await bus.publish([payload(n, 1000)]))[0] for n in range(25)]
    kept = await bus.read_after(START_ID, count=1000)
    assert [entry.id for entry in kept] == ids[-len(kept) :]
    assert sum(len(entry.data) for entry in kept) <= 10_000 < sum(len(entry.data) for entry in kept) + 1000
    assert await bus.first_id() == kept[0].id


async def test_one_entry_larger_than_max_bytes_is_still_the_newest() -> None:
    bus = MemoryEventBus(1000, max_bytes=100)
    await bus.publish([payload(0, 50)])
    (big,) = await bus.publish([payload(1, 500)])
    assert [entry.id for entry in await bus.read_after(START_ID)] == [big]


async def test_the_entry_bound_still_holds_exactly() -> None:
    bus = MemoryEventBus(10, max_bytes=1 << 20)
    ids = await bus.publish([payload(n, 100) for n in range(35)])
    assert [entry.id for entry in await bus.read_after(START_ID)] == ids[-10:]
