"""MemoryEventBus: the shared bus contract, plus what only the in-process bus promises."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import orjson
import pytest

from services.bus import MemoryEventBus, RedisEventBus, make_bus
from services.bus.base import START_ID, EventBus
from services.settings import Settings
from tests.support.bus_contract import DEADLINE, BlockedReaders, BusContract, envelopes, numbers, read_all


class FakeClock:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
async def new_bus() -> AsyncIterator[Callable[..., MemoryEventBus]]:
    made: list[MemoryEventBus] = []

    def make(maxlen: int = 10_000, max_bytes: int = 1 << 30) -> MemoryEventBus:
        made.append(MemoryEventBus(maxlen, max_bytes=max_bytes))
        return made[-1]

    yield make
    for bus in made:
        await bus.close()


@pytest.fixture
def blocked_readers(bus: EventBus) -> BlockedReaders:
    assert isinstance(bus, MemoryEventBus)

    async def count() -> int:
        return bus.waiting_readers

    return count


class TestMemoryBusContract(BusContract):
    pass


# -- ids -----------------------------------------------------------------------------------------


async def test_same_millisecond_increments_the_sequence() -> None:
    bus = MemoryEventBus(clock_ms=FakeClock(1000))
    assert await bus.publish(envelopes(0, 3)) == ["1000-0", "1000-1", "1000-2"]
    assert await bus.publish(envelopes(3, 1)) == ["1000-3"]


async def test_clock_going_backwards_never_gives_a_smaller_id() -> None:
    clock = FakeClock(5000)
    bus = MemoryEventBus(clock_ms=clock)
    assert await bus.publish(envelopes(0, 2)) == ["5000-0", "5000-1"]
    clock.now_ms = 4000
    assert await bus.publish(envelopes(2, 2)) == ["5000-2", "5000-3"]
    clock.now_ms = 6000
    assert await bus.publish(envelopes(4, 1)) == ["6000-0"]


async def test_first_id_is_after_the_start_even_at_clock_zero() -> None:
    bus = MemoryEventBus(clock_ms=FakeClock(0))
    assert await bus.publish(envelopes(0, 2)) == ["0-1", "0-2"]
    assert numbers(await bus.read_after(START_ID)) == [0, 1]


# -- trimming ------------------------------------------------------------------------------------


async def test_trimming_is_exact() -> None:
    bus = MemoryEventBus(maxlen=5)
    ids = await bus.publish(envelopes(0, 12))
    assert len(bus) == 5
    assert await bus.first_id() == ids[7]
    assert numbers(await bus.read_after(START_ID)) == list(range(7, 12))


async def test_lookups_stay_right_across_many_trims_and_compactions() -> None:
    bus = MemoryEventBus(maxlen=7)
    ids: list[str] = []
    for n in range(500):
        ids += await bus.publish(envelopes(n, 1))
        retained = ids[-7:]
        assert await bus.first_id() == retained[0]
        probe = ids[max(0, n - 9)]  # sometimes trimmed already, sometimes retained
        expected = [i for i in retained if i > probe] if probe in retained else retained
        assert [entry.id for entry in await bus.read_after(probe)] == expected
    assert len(bus._keys) <= 2 * 7 + 1  # the dead prefix is compacted away


async def test_lookup_in_a_long_stream() -> None:
    bus = MemoryEventBus(maxlen=100_000)
    payloads = [orjson.dumps({"data": {"n": n}}) for n in range(120_000)]
    ids = await bus.publish(payloads)
    assert len(bus) == 100_000 and await bus.first_id() == ids[20_000]
    assert numbers(await bus.read_after(ids[98_765], count=3)) == [98_766, 98_767, 98_768]
    assert len(await read_all(bus, ids[-2500])) == 2499


# -- waiting and closing -------------------------------------------------------------------------


async def test_close_wakes_blocked_readers_with_an_error() -> None:
    bus = MemoryEventBus()
    reader = asyncio.create_task(bus.read_after(START_ID, block_ms=0))
    await asyncio.sleep(0)
    assert bus.waiting_readers == 1
    await bus.close()
    with pytest.raises(RuntimeError, match="closed"):
        await asyncio.wait_for(reader, DEADLINE)
    assert bus.waiting_readers == 0
    assert not await bus.ping()
    with pytest.raises(RuntimeError):
        await bus.publish(envelopes(0, 1))


async def test_publish_with_cursors_is_one_step_for_other_coroutines() -> None:
    """Publishing never yields to the loop: no coroutine can observe half of it."""
    bus = MemoryEventBus()
    seen: list[tuple[str, int]] = []

    async def watch() -> None:
        for _ in range(50):
            seen.append(((await bus.cursors()).get("c", "0"), len(bus)))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    for n in range(1, 40):
        await bus.publish(envelopes(n * 10, 10), {"c": str(n * 10)})
        await asyncio.sleep(0)
    await watcher
    assert all(int(cursor) == count for cursor, count in seen)


def test_maxlen_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MemoryEventBus(maxlen=0)


# -- factory -------------------------------------------------------------------------------------


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Settings]]:
    """Settings from the given values only, whatever CODESWARM_* variables the environment has."""
    for name in ("CODESWARM_BUS", "CODESWARM_REDIS_URL", "CODESWARM_REDIS_PREFIX", "CODESWARM_STREAM_MAXLEN"):
        monkeypatch.delenv(name, raising=False)
    yield lambda **values: Settings(**values)


async def test_make_bus_memory_by_default(settings: Callable[..., Settings]) -> None:
    bus = make_bus(settings(stream_maxlen=1234))
    assert isinstance(bus, MemoryEventBus) and bus.maxlen == 1234


async def test_make_bus_redis(settings: Callable[..., Settings]) -> None:
    bus = make_bus(settings(bus="redis", redis_url="redis://127.0.0.1:1/0", redis_prefix="x:", stream_maxlen=5000))
    assert isinstance(bus, RedisEventBus)  # no connection is made until the first command
    assert (bus.stream_key, bus.cursors_key, bus.maxlen) == ("x:events", "x:cursors", 5000)
    await bus.close()
