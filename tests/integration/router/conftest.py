"""Fixtures for router integration tests: a real router process on real Postgres and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.support.router_process import BusReader, RouterProcess


@pytest.fixture
def start_router(
    tmp_path: Path, pg_url: str, redis_url: str, redis_prefix: str
) -> Iterator[Callable[..., RouterProcess]]:
    """start_router(**env) → a running router; every router started here is stopped afterwards.
    Calling it again after kill() starts a new process on the same database, bus and home."""
    started: list[RouterProcess] = []

    def start(**env: str) -> RouterProcess:
        router = RouterProcess(tmp_path / "home", pg_url, redis_url, redis_prefix, extra_env=env)
        router.home.mkdir(exist_ok=True)
        started.append(router.start())
        return router

    yield start
    for router in started:
        router.stop()
        router.stop_nodes()


@pytest.fixture
async def bus(redis_url: str, redis_prefix: str) -> AsyncIterator[BusReader]:
    reader = BusReader(redis_url, redis_prefix)
    yield reader
    await reader.close()
