"""The outbox relay on both databases and a real Redis bus: every committed lifecycle event reaches
the bus exactly once, also after relayed rows are deleted or when the bus saw another database's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.relay import OutboxRelay
from router.store.database import Database
from router.store.migrate import upgrade
from router.store.outbox import add_event, events_after
from services.bus.base import START_ID, EventBus
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


async def test_ids_of_forgotten_events_are_never_reused(db: Database, redis_bus: RedisEventBus) -> None:
    relay = OutboxRelay(db, redis_bus)
    await commit_events(db, 0, 3)
    assert await relay.relay_pending() == 3
    assert await relay.relay_pending() == 0  # idle: the relayed rows are deleted
    async with db.transaction() as session:
        assert await events_after(session, 0, 10) == []
    await commit_events(db, 3, 2)
    assert await relay.relay_pending() == 2
    restarted = OutboxRelay(db, redis_bus)
    await commit_events(db, 5, 1)
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
