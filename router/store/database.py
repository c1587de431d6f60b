"""The async engine and session factory (Postgres in deployments, SQLite in the embedded mode)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

from router.metrics import RouterMetrics
from router.store.outbox import take_pending
from router.store.tables import OutboxEventRow

SQLITE_TURN_STUCK_S = 120.0  # a writer's turn held this long is a bug (a turn takes milliseconds), not load
SQLITE_TURN_CHECK_S = 5.0


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is turned off: _begin_immediate starts every transaction instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class SqliteWriterQueue:
    """SQLite has one writer, and its own wait for the write lock is no queue: a transaction waiting in
    busy_timeout polls with growing sleeps and loses the lock to whoever asks between two polls, so under
    a stream of short ingest transactions a command can wait its whole 30 s and fail "database is locked".
    Every transaction of this process therefore takes its turn here, first come first served, before its
    BEGIN IMMEDIATE (a deferred transaction that reads and then writes could not wait at all), and gives
    it back at its COMMIT or ROLLBACK.  The turn is taken where the BEGIN is sent (a session begins at its
    first statement), so a session opened but not yet used holds nothing.

    A wait has no deadline of its own while the queue moves, however long it is under load; it fails when
    one holder has kept the turn over ``stuck_s``, and a transaction begun inside another one of the same
    task (which would wait for itself) fails at once."""

    def __init__(self, stuck_s: float = SQLITE_TURN_STUCK_S, check_s: float = SQLITE_TURN_CHECK_S) -> None:
        self._lock = asyncio.Lock()
        self._stuck_s, self._check_s = stuck_s, check_s
        self._holder: tuple[asyncio.Task[Any] | None, Any] | None = None  # (task, connection) whose turn it is
        self._held_since = 0.0

    def begin(self, connection: Any) -> None:
        task = asyncio.current_task()
        if self._holder is not None and task is not None and self._holder[0] is task:
            raise RuntimeError("a transaction began inside another one of the same task: it would wait for itself")
        await_only(self._take_turn())
        self._holder, self._held_since = (task, connection), time.monotonic()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.end(connection)
            raise

    async def _take_turn(self) -> None:
        turn = asyncio.ensure_future(self._lock.acquire())  # waited for in slices, keeping its place
        try:
            while not (await asyncio.wait({turn}, timeout=self._check_s))[0]:
                held_s = time.monotonic() - self._held_since
                if self._holder is not None and held_s > self._stuck_s:
                    holder = self._holder[0].get_name() if self._holder[0] else "a transaction outside any task"
                    raise TimeoutError(f"SQLite's writer turn has been held by {holder} for {held_s:.0f} s")
        except BaseException:
            if not turn.cancel() and not turn.cancelled() and turn.exception() is None:
                self._lock.release()  # it came just as this wait gave up
            raise

    def end(self, connection: Any) -> None:
        if self._holder is not None and self._holder[1] is connection:
            self._holder = None
            self._lock.release()


class Database:
    def __init__(self, url: str, metrics: RouterMetrics | None = None) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _tune_sqlite)
            writers = SqliteWriterQueue()
            event.listen(self.engine.sync_engine, "begin", writers.begin)
            event.listen(self.engine.sync_engine, "commit", writers.end)
            event.listen(self.engine.sync_engine, "rollback", writers.end)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._outbox_lock = asyncio.Lock()
        self.metrics = metrics or RouterMetrics()  # a tool's or test's database gets metrics of its own
        # Told, in commit order and under the outbox lock, the (outbox id, envelope) of each commit's events.
        self.on_events_committed: Callable[[Sequence[tuple[int, str]]], None] = lambda _events: None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success (with the events it emitted), rolls back on error."""
        started = time.perf_counter()
        async with self.sessions() as session:
            try:
                yield session
                pending = take_pending(session)
                if not pending:
                    await session.commit()
                    return
                # Insert and commit under one lock so outbox ids become visible in id order.  The
                # transaction has begun before the lock is taken (on SQLite: it has its writer's turn), so
                # the two are always taken in the same order.
                await session.connection()
                async with self._outbox_lock:
                    ids = await session.scalars(
                        insert(OutboxEventRow).returning(OutboxEventRow.id, sort_by_parameter_order=True),
                        [{"envelope": e} for e in pending],
                    )
                    committed = list(zip(ids.all(), pending, strict=True))
                    await session.commit()
                    self.on_events_committed(committed)
            except BaseException:
                await session.rollback()
                raise
            finally:
                self.metrics.transaction_seconds.observe(time.perf_counter() - started)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
