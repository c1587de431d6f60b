"""The outbox relay on both databases and a real Redis bus: every committed lifecycle event reaches
the bus exactly once and in commit order — whether the relay takes it from the commit that wrote it
or reads it back from the table (on start, after a bus error, or when too many are waiting)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from router import relay as relay_module
from router.relay import OutboxRelay
from router.store.database import Database
from router.store.migrate import upgrade
from router.store.outbox import add_event, events_after
from services.bus.base import START_ID, BusEntry, EventBus
from services.bus.redis_bus import RedisEventBus
from tests.support.servers import wait_until_async


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    await upgrade(url)
    database = Database(url)
    yield database
    await database.close()


class FlakyBus(EventBus):
    """The real Redis bus, except that the next `failures` publishes raise as a lost connection would."""

    def __init__(self, bus: RedisEventBus) -> None:
        self.bus = bus
        self.failures = 0

    async def publish(
        self, envelopes: Sequence[Mapping[str, Any] | bytes], cursors: Mapping[str, str] | None = None
    ) -> list[str]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("bus unreachable")
        return await self.bus.publish(envelopes, cursors=cursors)

    async def read_after(self, after_id: str, count: int = 1000, block_ms: int | None = None) -> list[BusEntry]:
        return await self.bus.read_after(after_id, count, block_ms)

    async def last_id(self) -> str:
        return await self.bus.last_id()

    async def first_id(self) -> str | None:
        return await self.bus.first_id()

    async def cursors(self) -> dict[str, str]:
        return await self.bus.cursors()

    async def forget_cursors(self, names: Sequence[str]) -> None:
        await self.bus.forget_cursors(names)

    async def ping(self) -> bool:
        return await self.bus.ping()

    async def close(self) -> None:
        await self.bus.close()


async def commit_events(db: Database, first: int, count: int, per_commit: int = 1) -> None:
    for start in range(first, first + count, per_commit):
        async with db.transaction() as session:
            for n in range(start, min(start + per_commit, first + count)):
                add_event(session, {"event": "swarm_status", "n": n})


async def published_numbers(bus: EventBus) -> list[int]:
    entries = await bus.read_after(START_ID, count=100_000)
    return [entry.envelope()["n"] for entry in entries]


async def wait_published(bus: EventBus, expected: list[int]) -> None:
    seen: list[int] = []

    async def done() -> bool:
        seen[:] = await published_numbers(bus)
        return len(seen) >= len(expected)

    try:
        await wait_until_async(done, 10, f"{len(expected)} events on the bus")
    except TimeoutError as exc:
        missing = sorted(set(expected) - set(seen))
        raise AssertionError(f"{exc}: {len(seen)} published, missing {missing}") from None
    assert seen == expected


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_events_committed_concurrently_are_published_once_in_commit_order(
    db: Database, redis_bus: RedisEventBus
) -> None:
    relay = OutboxRelay(db, redis_bus)
    handed: list[int] = []

    def committed(events: Sequence[tuple[int, str]]) -> None:
        handed.extend(orjson.loads(envelope)["n"] for _, envelope in events)
        relay.committed(events)

    db.on_events_committed = committed
    async with running(relay):
        await asyncio.gather(*(commit_events(db, 100 * writer, 40, per_commit=writer + 1) for writer in range(5)))
        await wait_published(redis_bus, handed)
    assert sorted(handed) == sorted(100 * w + i for w in range(5) for i in range(40))
    assert (await redis_bus.cursors())["outbox"] != "0"


async def test_a_new_relay_publishes_what_was_committed_before_it_and_nothing_twice(
    db: Database, redis_bus: RedisEventBus
) -> None:
    first = OutboxRelay(db, redis_bus)
    db.on_events_committed = first.committed
    await commit_events(db, 0, 5)
    await first.relay_pending()
    db.on_events_committed = lambda _events: None  # the router is down: nobody is told of these commits
    await commit_events(db, 5, 5)
    second = OutboxRelay(db, redis_bus)
    db.on_events_committed = second.committed
    await commit_events(db, 10, 3)
    assert await second.relay_pending() == 8
    assert await second.relay_pending() == 0
    await wait_published(redis_bus, list(range(13)))


async def test_a_bus_error_sends_the_relay_back_to_the_table_without_loss_or_duplicates(
    db: Database, redis_bus: RedisEventBus
) -> None:
    bus = FlakyBus(redis_bus)
    relay = OutboxRelay(db, bus, idle_poll_s=0.05)
    db.on_events_committed = relay.committed
    await commit_events(db, 0, 3)
    await relay.relay_pending()
    bus.failures = 2
    async with running(relay):
        await commit_events(db, 3, 6, per_commit=2)
        await wait_published(redis_bus, list(range(9)))
    assert bus.failures == 0


async def test_too_many_waiting_events_are_read_back_from_the_table(
    db: Database, redis_bus: RedisEventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay_module, "MAX_HANDED_OVER", 4)
    relay = OutboxRelay(db, redis_bus)
    db.on_events_committed = relay.committed
    await relay.relay_pending()
    await commit_events(db, 0, 10, per_commit=3)
    assert await relay.relay_pending() == 10
    await wait_published(redis_bus, list(range(10)))


async def test_ids_of_forgotten_events_are_never_reused(db: Database, redis_bus: RedisEventBus) -> None:
    relay = OutboxRelay(db, redis_bus)
    db.on_events_committed = relay.committed
    await commit_events(db, 0, 3)
    assert await relay.relay_pending() == 3
    assert await relay.relay_pending() == 0  # idle: the relayed rows are deleted
    async with db.transaction() as session:
        assert await events_after(session, 0, 10) == []
    await commit_events(db, 3, 2)
    assert await relay.relay_pending() == 2
    restarted = OutboxRelay(db, redis_bus)
    await commit_events(db, 5, 1)  # committed while no relay is told
    assert await restarted.relay_pending() == 1
    await wait_published(redis_bus, list(range(6)))


async def test_a_bus_that_relayed_another_databases_events_gets_this_ones_from_the_start(
    db: Database, redis_bus: RedisEventBus
) -> None:
    await redis_bus.publish([{"event": "swarm_status", "n": -1}], cursors={"outbox": "1000"})
    await commit_events(db, 0, 3)
    relay = OutboxRelay(db, redis_bus)
    assert await relay.relay_pending() == 3
    await wait_published(redis_bus, [-1, 0, 1, 2])
    assert (await redis_bus.cursors())["outbox"] == "3"
