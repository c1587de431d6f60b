"""SQLite's one writer, shared fairly (router/store/database.py SqliteWriterQueue): a command gets its turn
while other tasks write back to back, a transaction that only emits events cannot deadlock against one that
is inserting them, a transaction opened inside another of the same task fails at once, naming why, and a
wait fails only when one holder kept the turn too long (never for the length of the queue)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.util import greenlet_spawn

from router.store.database import Database, SqliteWriterQueue
from router.store.outbox import add_event
from router.store.tables import OutboxEventRow
from tests.support.sqlite_database import migrated_sqlite

WRITERS = 4  # tasks writing back to back, as ingest does under load
COMMANDS = 20
COMMAND_WITHIN_S = 10.0  # a command's turn comes after the writers ahead of it, never after busy_timeout


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await migrated_sqlite(tmp_path, "queue.db")
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE load (writer INTEGER, n INTEGER)"))
    yield database
    await database.close()


async def test_a_command_gets_its_turn_while_writers_write_back_to_back(db: Database) -> None:
    stop = asyncio.Event()

    async def writer(writer_no: int) -> int:
        done = 0
        while not stop.is_set():
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO load VALUES (:w, :n)"), {"w": writer_no, "n": done})
                await session.execute(text("SELECT count(*) FROM load WHERE writer = :w"), {"w": writer_no})
            done += 1
        return done

    writers = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
    waits = []
    try:
        for command in range(COMMANDS):
            started = time.monotonic()
            async with asyncio.timeout(COMMAND_WITHIN_S):
                async with db.transaction() as session:
                    await session.execute(text("INSERT INTO load VALUES (-1, :n)"), {"n": command})
            waits.append(time.monotonic() - started)
    finally:
        stop.set()
        written = await asyncio.gather(*writers)
    assert len(waits) == COMMANDS
    assert all(count > 0 for count in written), written  # the writers kept their turns too
    async with db.transaction() as session:
        commands = await session.scalar(text("SELECT count(*) FROM load WHERE writer = -1"))
    assert commands == COMMANDS


async def test_events_only_transaction_and_an_inserting_one_do_not_deadlock(db: Database) -> None:
    async def emits_only(n: int) -> None:
        async with db.transaction() as session:  # no statement before the outbox insert at commit
            add_event(session, {"event": "only", "n": n})

    async def works_then_emits(n: int) -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO load VALUES (0, :n)"), {"n": n})
            await asyncio.sleep(0)  # the other task reaches the outbox lock meanwhile
            add_event(session, {"event": "work", "n": n})

    async with asyncio.timeout(10):
        await asyncio.gather(*(task(n) for n in range(50) for task in (emits_only, works_then_emits)))
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEventRow)) == 100


async def test_a_transaction_inside_another_of_the_same_task_fails_at_once(db: Database) -> None:
    async with asyncio.timeout(5):
        with pytest.raises(RuntimeError, match="inside another one of the same task"):
            async with db.transaction() as outer:
                await outer.execute(text("SELECT 1"))
                async with db.transaction() as inner:
                    await inner.execute(text("SELECT 1"))
    async with db.transaction() as session:  # the queue was given back
        assert await session.scalar(text("SELECT 1")) == 1


async def test_a_turn_held_too_long_fails_the_waiter_naming_the_holder(tmp_path: Path) -> None:
    queue = SqliteWriterQueue(stuck_s=0.2, check_s=0.05)
    held, release = asyncio.Event(), asyncio.Event()

    class Connection:
        def exec_driver_sql(self, _sql: str) -> None:
            pass

    async def holder() -> None:
        connection = Connection()
        await greenlet_spawn(queue.begin, connection)
        held.set()
        await release.wait()
        queue.end(connection)

    holding = asyncio.create_task(holder(), name="a-stuck-holder")
    await asyncio.wait_for(held.wait(), 5)
    with pytest.raises(TimeoutError, match="held by a-stuck-holder"):
        await asyncio.wait_for(greenlet_spawn(queue.begin, Connection()), 5)
    release.set()
    await asyncio.wait_for(holding, 5)
    late = Connection()
    await asyncio.wait_for(greenlet_spawn(queue.begin, late), 5)  # the given-up wait left no turn behind
    queue.end(late)
