"""The async engine and session factory (Postgres in deployments, SQLite in the embedded mode)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from router.metrics import RouterMetrics
from router.store.outbox import take_pending
from router.store.tables import OutboxEventRow


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is turned off: _begin_immediate starts every transaction instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    """SQLite has one writer.  A deferred transaction that reads and then writes cannot wait for the
    write lock (SQLITE_BUSY at once, "database is locked"); one that takes the lock at BEGIN waits for
    it (busy_timeout), so concurrent commands queue instead of failing."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _tune_sqlite)
            event.listen(self.engine.sync_engine, "begin", _begin_immediate)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._outbox_lock = asyncio.Lock()
        self.metrics = RouterMetrics()  # the router's own, once wired (router/core.py)
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
                # Insert and commit under one lock so outbox ids become visible in id order.
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
